import { open } from "node:fs/promises";
import { unreachable } from "../../util/unreachable.ts";

/** GGUF v3 value types (ggml/include/gguf.h). */
export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
type ScalarType = "u32" | "i32" | "f32" | "bool" | "string" | "u64";
type ArrayType = "string" | "i32" | "f32";

type Kv =
  | { kind: "scalar"; type: ScalarType; value: number | boolean | string | bigint }
  | { kind: "array"; type: ArrayType; values: readonly (string | number)[] };

/** The ggml tensor types this writer can lay out (ggml_type values in ggml.h). */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q5_0: 6, Q8_0: 8, Q4_K: 12, Q6_K: 14 } as const;
export type GgmlTypeId = (typeof GgmlType)[keyof typeof GgmlType];

/**
 * Elements and bytes per block of each type (ggml's type traits; the layouts are ggml-common.h's).
 * A row must be a whole number of blocks.
 */
export const GGML_BLOCK = {
  [GgmlType.F32]: { size: 1, bytes: 4, name: "F32" },
  [GgmlType.F16]: { size: 1, bytes: 2, name: "F16" },
  /** block_q4_0: f16 d; u8 qs[16]. */
  [GgmlType.Q4_0]: { size: 32, bytes: 18, name: "Q4_0" },
  /** block_q5_0: f16 d; u8 qh[4]; u8 qs[16]. */
  [GgmlType.Q5_0]: { size: 32, bytes: 22, name: "Q5_0" },
  /** block_q8_0: f16 d; i8 qs[32]. */
  [GgmlType.Q8_0]: { size: 32, bytes: 34, name: "Q8_0" },
  /** block_q4_K: f16 d; f16 dmin; u8 scales[12]; u8 qs[128]. */
  [GgmlType.Q4_K]: { size: 256, bytes: 144, name: "Q4_K" },
  /** block_q6_K: u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d. */
  [GgmlType.Q6_K]: { size: 256, bytes: 210, name: "Q6_K" },
} as const satisfies Record<GgmlTypeId, { size: number; bytes: number; name: string }>;

/** Bytes per row of `ne0` elements, e.g. Q8_0 packs 32 values as an f16 scale plus 32 int8. */
export function rowBytes(type: GgmlTypeId, ne0: number): number {
  const block = GGML_BLOCK[type];
  if (block === undefined) throw new RangeError(`unknown ggml type ${type}`);
  if (ne0 % block.size !== 0) throw new RangeError(`${block.name} needs rows that are a multiple of ${block.size}, got ${ne0}`);
  return (ne0 / block.size) * block.bytes;
}

export interface TensorSpec {
  name: string;
  /** ggml order: dims[0] is the contiguous (row) dimension. */
  dims: readonly number[];
  type: GgmlTypeId;
  /** Writes the tensor's rows in order; called once, when the file is written. */
  fill(write: (chunk: Uint8Array) => Promise<void>): Promise<void>;
}

const ALIGNMENT = 32;

/**
 * Writes GGUF v3 files. Keys and tensors keep their insertion order and nothing
 * time- or host-dependent is written, so the same inputs give byte-identical files.
 */
export class GgufWriter {
  readonly #kv = new Map<string, Kv>();
  readonly #tensors: TensorSpec[] = [];

  set(key: string, type: ScalarType, value: number | boolean | string | bigint): this {
    this.#kv.set(key, { kind: "scalar", type, value });
    return this;
  }

  setArray(key: string, type: ArrayType, values: readonly (string | number)[]): this {
    this.#kv.set(key, { kind: "array", type, values });
    return this;
  }

  addTensor(spec: TensorSpec): this {
    this.#tensors.push(spec);
    return this;
  }

  async write(path: string): Promise<void> {
    const header = new ByteSink();
    header.raw(Buffer.from("GGUF", "ascii"));
    header.u32(3);
    header.u64(BigInt(this.#tensors.length));
    header.u64(BigInt(this.#kv.size));
    for (const [key, kv] of this.#kv) {
      header.str(key);
      if (kv.kind === "scalar") writeScalar(header, kv.type, kv.value);
      else writeArray(header, kv.type, kv.values);
    }
    let offset = 0n;
    for (const t of this.#tensors) {
      header.str(t.name);
      header.u32(t.dims.length);
      for (const d of t.dims) header.u64(BigInt(d));
      header.u32(t.type);
      header.u64(offset);
      offset += BigInt(alignUp(tensorBytes(t), ALIGNMENT));
    }
    header.pad(ALIGNMENT);

    const fh = await open(path, "w");
    try {
      await fh.write(header.bytes());
      for (const t of this.#tensors) {
        let written = 0;
        await t.fill(async (chunk) => {
          written += chunk.byteLength;
          await fh.write(chunk);
        });
        const expected = tensorBytes(t);
        if (written !== expected) throw new Error(`tensor ${t.name}: wrote ${written} bytes, expected ${expected}`);
        const padding = alignUp(expected, ALIGNMENT) - expected;
        if (padding > 0) await fh.write(new Uint8Array(padding));
      }
    } finally {
      await fh.close();
    }
  }
}

export function tensorBytes(t: Pick<TensorSpec, "dims" | "type">): number {
  const [ne0 = 1, ...rest] = t.dims;
  return rowBytes(t.type, ne0) * rest.reduce((a, b) => a * b, 1);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function writeScalar(s: ByteSink, type: ScalarType, value: number | boolean | string | bigint): void {
  switch (type) {
    case "u32": s.u32(GgufValueType.UINT32); s.u32(Number(value)); return;
    case "i32": s.u32(GgufValueType.INT32); s.i32(Number(value)); return;
    case "f32": s.u32(GgufValueType.FLOAT32); s.f32(Number(value)); return;
    case "bool": s.u32(GgufValueType.BOOL); s.u8(value ? 1 : 0); return;
    case "string": s.u32(GgufValueType.STRING); s.str(String(value)); return;
    case "u64": s.u32(GgufValueType.UINT64); s.u64(BigInt(value)); return;
    default: unreachable(type);
  }
}

function writeArray(s: ByteSink, type: ArrayType, values: readonly (string | number)[]): void {
  s.u32(GgufValueType.ARRAY);
  switch (type) {
    case "string": s.u32(GgufValueType.STRING); s.u64(BigInt(values.length)); for (const v of values) s.str(String(v)); return;
    case "i32": s.u32(GgufValueType.INT32); s.u64(BigInt(values.length)); for (const v of values) s.i32(Number(v)); return;
    case "f32": s.u32(GgufValueType.FLOAT32); s.u64(BigInt(values.length)); for (const v of values) s.f32(Number(v)); return;
    default: unreachable(type);
  }
}

/** A growable little-endian byte buffer for the header and metadata. */
class ByteSink {
  #buf = Buffer.alloc(1 << 16);
  #len = 0;

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }
  u8(v: number): void { this.#reserve(1); this.#buf.writeUInt8(v, this.#len); this.#len += 1; }
  u32(v: number): void { this.#reserve(4); this.#buf.writeUInt32LE(v, this.#len); this.#len += 4; }
  i32(v: number): void { this.#reserve(4); this.#buf.writeInt32LE(v, this.#len); this.#len += 4; }
  f32(v: number): void { this.#reserve(4); this.#buf.writeFloatLE(v, this.#len); this.#len += 4; }
  u64(v: bigint): void { this.#reserve(8); this.#buf.writeBigUInt64LE(v, this.#len); this.#len += 8; }
  raw(b: Uint8Array): void { this.#reserve(b.length); this.#buf.set(b, this.#len); this.#len += b.length; }
  str(v: string): void { const b = Buffer.from(v, "utf8"); this.u64(BigInt(b.length)); this.raw(b); }
  pad(a: number): void { const n = alignUp(this.#len, a) - this.#len; this.raw(new Uint8Array(n)); }
  bytes(): Uint8Array { return this.#buf.subarray(0, this.#len); }
}
