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

/** The ggml tensor types this writer can lay out. */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlTypeId = (typeof GgmlType)[keyof typeof GgmlType];

/** Bytes per row of `ne0` elements: Q8_0 packs 32 values as an f16 scale plus 32 int8. */
export function rowBytes(type: GgmlTypeId, ne0: number): number {
  switch (type) {
    case GgmlType.F32: return ne0 * 4;
    case GgmlType.F16: return ne0 * 2;
    case GgmlType.Q8_0:
      if (ne0 % 32 !== 0) throw new RangeError(`Q8_0 needs rows that are a multiple of 32, got ${ne0}`);
      return (ne0 / 32) * 34;
    default: return unreachable(type);
  }
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
