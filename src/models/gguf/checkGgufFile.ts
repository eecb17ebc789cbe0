import { open, type FileHandle } from "node:fs/promises";

/**
 * A GGUF file is untrusted input: parsers that believe the sizes and counts it declares read past
 * its end, allocate what it asks for, or (node-llama-cpp 3.21's reader, on a file cut short in its
 * header) wait forever. This walks the header with every size checked against the bytes actually
 * there, before the file reaches llama.cpp. It allocates nothing larger than one read buffer.
 */
export class GgufFileError extends Error {
  override name = "GgufFileError";
}

/** Bytes per block and elements per block of the ggml types (ggml.c `type_traits`). */
const TYPE_BLOCKS: Record<number, [bytes: number, elements: number]> = {
  0: [4, 1], 1: [2, 1], 2: [18, 32], 3: [20, 32], 6: [22, 32], 7: [24, 32], 8: [34, 32], 9: [36, 32],
  10: [84, 256], 11: [110, 256], 12: [144, 256], 13: [176, 256], 14: [210, 256], 15: [292, 256],
  16: [66, 256], 17: [74, 256], 18: [98, 256], 19: [50, 256], 20: [18, 32], 21: [110, 256], 22: [82, 256],
  23: [136, 256], 24: [1, 1], 25: [2, 1], 26: [4, 1], 27: [8, 1], 28: [8, 1], 29: [56, 256], 30: [2, 1],
  34: [54, 256], 35: [66, 256], 39: [17, 32],
};
const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;
const MAX_DIMS = 4;
const MAX_ALIGNMENT = 1 << 16;
const MAX_CONTEXT = 2 ** 31 - 1;

export interface GgufSummary {
  version: number;
  tensorCount: number;
  metadataCount: number;
  /** The metadata's numbers, booleans and strings (arrays, and strings over 1 KB, left out): asked for with `metadata`. */
  metadata?: Record<string, string | number | boolean>;
  /** The weights' elements, summed over the tensors. */
  parameterCount: number;
}

/** Longer strings (a chat template) are not kept in the summary's metadata. */
const MAX_KEPT_STRING = 1024;

export async function checkGgufFile(path: string, opts: { metadata?: boolean } = {}): Promise<GgufSummary> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw new GgufFileError(`cannot open the model file (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw new GgufFileError("the model path is not a regular file");
    return await walk(new Reader(fh, stat.size), stat.size, opts.metadata === true);
  } finally {
    await fh.close();
  }
}

async function walk(r: Reader, fileSize: number, keep: boolean): Promise<GgufSummary> {
  const magic = await r.bytes(4);
  if (Buffer.from(magic).toString("latin1") !== "GGUF") throw new GgufFileError("not a GGUF file (bad magic)");
  const version = await r.u32();
  if (version !== 2 && version !== 3) throw new GgufFileError(`unsupported GGUF version ${version}`);
  const tensorCount = await r.count("tensor count", 8 + 8 + 4 + 8);
  const metadataCount = await r.count("metadata count", 8 + 4);
  let alignment = 32;
  const metadata: Record<string, string | number | boolean> = {};
  for (let i = 0; i < metadataCount; i++) {
    const key = await r.string();
    const type = await r.u32();
    if (keep && type !== ARRAY && !key.endsWith(".context_length") && key !== "general.alignment") {
      const value = await readScalar(r, type, key);
      if (value !== undefined) metadata[key] = value;
      continue;
    }
    if (key.endsWith(".context_length")) {
      const length = await checkContextLength(r, type, key);
      if (keep && length !== undefined) metadata[key] = length;
      continue;
    }
    if (key === "general.alignment") {
      if (type !== 4) throw new GgufFileError("general.alignment must be a uint32");
      alignment = await r.u32();
      if (alignment === 0 || alignment > MAX_ALIGNMENT || (alignment & (alignment - 1)) !== 0) throw new GgufFileError(`invalid alignment ${alignment}`);
      continue;
    }
    await skipValue(r, type, key);
  }
  const tensors: { offset: number; bytes: number | undefined }[] = [];
  let parameterCount = 0;
  for (let i = 0; i < tensorCount; i++) {
    await r.string();
    const dims = await r.u32();
    if (dims === 0 || dims > MAX_DIMS) throw new GgufFileError(`tensor ${i} has ${dims} dimensions`);
    let elements = 1;
    let ne0 = 0;
    for (let d = 0; d < dims; d++) {
      const n = await r.u64(`tensor ${i}'s dimension`);
      if (n === 0 || n > fileSize * 256) throw new GgufFileError(`tensor ${i} has an impossible dimension`);
      if (d === 0) ne0 = n;
      elements *= n;
    }
    parameterCount += elements;
    const type = await r.u32();
    const offset = await r.u64(`tensor ${i}'s offset`);
    const block = TYPE_BLOCKS[type];
    if (block && ne0 % block[1] !== 0) throw new GgufFileError(`tensor ${i}'s rows do not fill whole blocks`);
    tensors.push({ offset, bytes: block ? (elements / block[1]) * block[0] : undefined });
  }
  const dataStart = Math.ceil(r.position / alignment) * alignment;
  for (const [i, t] of tensors.entries()) {
    if (t.offset % alignment !== 0) throw new GgufFileError(`tensor ${i} is not aligned`);
    const end = dataStart + t.offset + (t.bytes ?? 0);
    if (end > fileSize) throw new GgufFileError(`tensor ${i} lies past the end of the file (the file is truncated or corrupt)`);
  }
  return { version, tensorCount, metadataCount, parameterCount, ...(keep ? { metadata } : {}) };
}

/** A metadata value that is not an array; undefined for a string too long to keep (skipped). */
async function readScalar(r: Reader, type: number, key: string): Promise<string | number | boolean | undefined> {
  if (type === STRING) {
    const n = await r.u64("string length");
    if (n > MAX_KEPT_STRING) return void await r.skip(n);
    return Buffer.from(await r.bytes(n)).toString("utf8");
  }
  const size = SCALAR_BYTES[type];
  if (size === undefined) throw new GgufFileError(`unknown value type ${type} in ${sanitize(key)}`);
  const b = Buffer.from(await r.bytes(size));
  switch (type) {
    case 0: return b.readUInt8(0);
    case 1: return b.readInt8(0);
    case 2: return b.readUInt16LE(0);
    case 3: return b.readInt16LE(0);
    case 4: return b.readUInt32LE(0);
    case 5: return b.readInt32LE(0);
    case 6: return b.readFloatLE(0);
    case 7: return b.readUInt8(0) !== 0;
    case 10: return Number(b.readBigUInt64LE(0));
    case 11: return Number(b.readBigInt64LE(0));
    default: return b.readDoubleLE(0);
  }
}

/**
 * llama.cpp reads the trained context (a uint32; it reports other types itself) into an int32:
 * 0xFFFFFFFF becomes -1 and the model loads with a context of 1 token, so that every request
 * fails. A file declaring 0 or more than an int32 holds is refused with the reason instead.
 */
async function checkContextLength(r: Reader, type: number, key: string): Promise<number | undefined> {
  if (type !== 4) return void await skipValue(r, type, key);
  const value = await r.u32();
  if (value === 0 || value > MAX_CONTEXT) throw new GgufFileError(`the declared context length ${value} is not between 1 and ${MAX_CONTEXT} tokens`);
  return value;
}

async function skipValue(r: Reader, type: number, key: string): Promise<void> {
  if (type === STRING) return void await r.skip(await r.u64("string length"));
  if (type === ARRAY) {
    const itemType = await r.u32();
    if (itemType === ARRAY) throw new GgufFileError(`nested array in ${sanitize(key)}`);
    const n = await r.u64("array length");
    if (itemType === STRING) {
      for (let i = 0; i < n; i++) await r.skip(await r.u64("string length"));
      return;
    }
    const size = SCALAR_BYTES[itemType];
    if (size === undefined) throw new GgufFileError(`unknown array type ${itemType} in ${sanitize(key)}`);
    return void await r.skip(n * size);
  }
  const size = SCALAR_BYTES[type];
  if (size === undefined) throw new GgufFileError(`unknown value type ${type} in ${sanitize(key)}`);
  await r.skip(size);
}

function sanitize(key: string): string {
  return JSON.stringify(key.slice(0, 64));
}

/** Sequential reads through one bounded buffer; every length is checked against the file size. */
class Reader {
  readonly #fh: FileHandle;
  readonly #size: number;
  #buf = Buffer.alloc(1 << 20);
  #bufStart = 0;
  #bufLen = 0;
  position = 0;

  constructor(fh: FileHandle, size: number) {
    this.#fh = fh;
    this.#size = size;
  }

  async #ensure(n: number): Promise<void> {
    if (this.position + n > this.#size) throw new GgufFileError("the file ends inside its header (truncated)");
    if (this.position >= this.#bufStart && this.position + n <= this.#bufStart + this.#bufLen) return;
    const { bytesRead } = await this.#fh.read(this.#buf, 0, this.#buf.length, this.position);
    this.#bufStart = this.position;
    this.#bufLen = bytesRead;
    if (bytesRead < n) throw new GgufFileError("the file ends inside its header (truncated)");
  }

  async bytes(n: number): Promise<Uint8Array> {
    await this.#ensure(n);
    const at = this.position - this.#bufStart;
    this.position += n;
    return this.#buf.subarray(at, at + n);
  }

  async u32(): Promise<number> {
    return Buffer.from(await this.bytes(4)).readUInt32LE(0);
  }

  async u64(what = "size"): Promise<number> {
    const v = Buffer.from(await this.bytes(8)).readBigUInt64LE(0);
    if (v > BigInt(this.#size)) throw new GgufFileError(`${what} ${v} is larger than the whole file (truncated or corrupt)`);
    return Number(v);
  }

  /** A count of entries, each at least `minBytes` long: more than the file can hold is corrupt. */
  async count(what: string, minBytes: number): Promise<number> {
    const n = await this.u64(what);
    if (n * minBytes > this.#size) throw new GgufFileError(`${what} ${n} cannot fit in the file (truncated or corrupt)`);
    return n;
  }

  async string(): Promise<string> {
    const n = await this.u64("string length");
    if (n > this.#buf.length) {
      await this.skip(n);
      return "";
    }
    return Buffer.from(await this.bytes(n)).toString("utf8");
  }

  async skip(n: number): Promise<void> {
    if (this.position + n > this.#size) throw new GgufFileError("the file ends inside its header (truncated)");
    this.position += n;
  }
}
