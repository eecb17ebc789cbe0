import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { HearthError } from "../../src/errors.ts";
import { pullModel } from "../../src/models/pull/pullModel.ts";
import { testModel } from "../helpers/models.ts";
import { listDir, scratch, sha256 } from "./fixtures.ts";

const modelPath = await testModel("tiny");
const modelSha = sha256(await readFile(modelPath));
const { root: work, fresh: freshDir } = await scratch("local");
const source = join(work, "src", "local-tiny.gguf");
await mkdir(join(work, "src"));
await copyFile(modelPath, source);
await writeFile(join(work, "src", "notes.gguf"), "plain text, not a model");

const isError = (code: string, status: number) => (e: unknown) => HearthError.is(e) && e.code === code && e.statusCode === status;

test("a local file is copied in by absolute path, relative path or file: URL", async () => {
  for (const form of [source, `./${relative(work, source)}`, pathToFileURL(source).href]) {
    const dir = await freshDir();
    const result = await pullModel(form, { modelsDir: dir, cwd: work });
    assert.equal(result.sha256, modelSha, form);
    assert.equal(result.verified, "size", form);
    assert.deepEqual(await listDir(dir), ["local-tiny.gguf"], form);
  }
});

test("a missing file is 404, a folder or a text file 400, and local paths can be turned off", async () => {
  const cases: [string, string, number][] = [
    [join(work, "src", "missing.gguf"), "model_source_not_found", 404],
    [join(work, "src"), "invalid_model_source", 400],
    [join(work, "src", "notes.gguf"), "invalid_model_file", 400],
  ];
  for (const [path, code, status] of cases) {
    const dir = await freshDir();
    await assert.rejects(pullModel(path, { modelsDir: dir, name: "x" }), isError(code, status), path);
    assert.deepEqual(await listDir(dir), [], path);
  }
  await assert.rejects(pullModel(source, { modelsDir: await freshDir(), allowLocal: false }), isError("invalid_model_source", 400));
  await assert.rejects(pullModel(pathToFileURL(source).href, { modelsDir: await freshDir(), allowLocal: false }), isError("invalid_model_source", 400));
});

test("error messages name the file, never its folder", async () => {
  const secret = join(work, "src", "missing.gguf");
  await assert.rejects(pullModel(secret, { modelsDir: await freshDir() }), (e: unknown) => HearthError.is(e) && !e.message.includes(work) && e.message.includes("missing.gguf"));
});
