import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readGgufFileInfo } from "node-llama-cpp";
import { generateModel, sha256File } from "../../src/models/generator/generateModel.ts";
import { presets } from "../../src/models/generator/presets.ts";

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
