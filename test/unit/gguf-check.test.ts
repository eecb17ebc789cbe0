import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { checkGgufFile, GgufFileError } from "../../src/models/gguf/checkGgufFile.ts";
import { testModel } from "../helpers/models.ts";

const dir = await mkdtemp(join(tmpdir(), "hearth-gguf-"));
const good = await readFile(await testModel("tiny"));

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

function header(fields: (["u32", number] | ["u64", bigint] | ["raw", string])[]): Buffer {
  return Buffer.concat(fields.map(([kind, v]) => {
    if (kind === "raw") return Buffer.from(v, "latin1");
    const b = Buffer.alloc(kind === "u32" ? 4 : 8);
    if (kind === "u32") b.writeUInt32LE(v as number); else b.writeBigUInt64LE(v as bigint);
    return b;
  }));
}

const rejects = (path: Promise<string>, pattern: RegExp) =>
  assert.rejects(path.then(checkGgufFile), (e: unknown) => e instanceof GgufFileError && pattern.test(e.message));

test("a generated model passes", async () => {
  const summary = await checkGgufFile(await file("good.gguf", good));
  assert.equal(summary.version, 3);
});

test("empty, 4-byte and non-GGUF files are refused", async () => {
  await rejects(file("empty.gguf", new Uint8Array()), /truncated/);
  await rejects(file("magic.gguf", Buffer.from("GGUF")), /truncated/);
  await rejects(file("text.gguf", Buffer.from("hello, this is not a model at all")), /bad magic/);
  await rejects(Promise.resolve(dir), /not a regular file/);
});

test("files cut short in the header, the metadata or the tensor data are refused", async () => {
  for (const at of [10, 200, 3000, good.length - 100]) {
    await rejects(file(`cut-${at}.gguf`, good.subarray(0, at)), /truncated/);
  }
});

test("declared counts and sizes the file cannot hold are refused without allocating them", async () => {
  await rejects(file("tensors.gguf", header([["raw", "GGUF"], ["u32", 3], ["u64", 2n ** 63n], ["u64", 0n]])), /tensor count/);
  await rejects(file("kvs.gguf", header([["raw", "GGUF"], ["u32", 3], ["u64", 0n], ["u64", 2n ** 40n]])), /metadata count/);
  const hugeString = header([["raw", "GGUF"], ["u32", 3], ["u64", 0n], ["u64", 1n], ["u64", 2n ** 40n], ["raw", "k"]]);
  await rejects(file("string.gguf", hugeString), /string length/);
  await rejects(file("version.gguf", header([["raw", "GGUF"], ["u32", 99], ["u64", 0n], ["u64", 0n]])), /version 99/);
});

test("a zero or odd alignment and a tensor with too many dimensions are refused", async () => {
  const kv = (value: number) => header([["raw", "GGUF"], ["u32", 3], ["u64", 0n], ["u64", 1n], ["u64", 17n], ["raw", "general.alignment"], ["u32", 4], ["u32", value]]);
  await rejects(file("align0.gguf", kv(0)), /alignment 0/);
  await rejects(file("align3.gguf", kv(3)), /alignment 3/);
  const dims = header([["raw", "GGUF"], ["u32", 3], ["u64", 1n], ["u64", 0n], ["u64", 1n], ["raw", "t"], ["u32", 9], ["raw", "\0".repeat(64)]]);
  await rejects(file("dims.gguf", dims), /9 dimensions/);
});

test("a declared context length of 0 or past an int32 (llama.cpp would load it with a context of 1) is refused", async () => {
  const at = good.indexOf("llama.context_length") + "llama.context_length".length + 4;
  for (const value of [0xffffffff, 0x80000000, 0]) {
    const bytes = Buffer.from(good);
    bytes.writeUInt32LE(value, at);
    await rejects(file(`ctx-${value}.gguf`, bytes), new RegExp(`context length ${value} is not between`));
  }
});
