import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { HearthError } from "../../src/errors.ts";
import { checkChosenName, nameFromSource, nameProblem } from "../../src/models/pull/modelName.ts";
import { pullModel, pullTarget } from "../../src/models/pull/pullModel.ts";
import { testModel } from "../helpers/models.ts";
import { listDir, scratch, startServer } from "./fixtures.ts";

const model = await readFile(await testModel("tiny"));
const server = await startServer({ "/ok/tiny.gguf": { kind: "file", body: model } });
after(() => server.close());
const { fresh } = await scratch("names");

const isError = (code: string, param: string) => (e: unknown) => HearthError.is(e) && e.code === code && e.statusCode === 400 && e.param === param;

test("a name is a plain base name ending in .gguf", () => {
  for (const good of ["tiny.gguf", "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "a+b=c@d,e.gguf", "x..y.gguf"]) assert.equal(nameProblem(good), null, good);
  for (const bad of ["../x.gguf", "a/b.gguf", "a\\b.gguf", "x\0.gguf", ".hidden.gguf", "..", "%2e%2e%2fx.gguf", "x.bin", "x.GGUF", "-x.gguf", "a b.gguf", "x.gguf.partial", `${"a".repeat(200)}.gguf`, "ｘ.gguf"]) {
    assert.notEqual(nameProblem(bad), null, JSON.stringify(bad));
  }
  assert.equal(checkChosenName("my-model"), "my-model.gguf", ".gguf is added to a chosen name");
  assert.equal(nameFromSource("Model%2DQ8.gguf", true), "Model-Q8.gguf", "a URL segment is decoded once");
  assert.throws(() => nameFromSource("%2e%2e%2fx.gguf", true), isError("invalid_model_source", "source"));
  assert.throws(() => nameFromSource("%252fx.gguf", true), isError("invalid_model_source", "source"), "double encoding");
  assert.throws(() => nameFromSource("%E0%A4%A.gguf", true), isError("invalid_model_source", "source"), "malformed escape");
});

test("bad names from a chosen name or from the source are refused with a 400 before any request, leaving nothing", async () => {
  const bad: [source: string, name: string | undefined, code: string, param: string][] = [
    [`${server.url}/ok/tiny.gguf`, "../x.gguf", "invalid_model_name", "name"],
    [`${server.url}/ok/tiny.gguf`, "a/b.gguf", "invalid_model_name", "name"],
    [`${server.url}/ok/tiny.gguf`, "%2e%2e%2fx.gguf", "invalid_model_name", "name"],
    [`${server.url}/ok/tiny.gguf`, "x\0.gguf", "invalid_model_name", "name"],
    [`${server.url}/ok/tiny.gguf`, "/etc/x.gguf", "invalid_model_name", "name"],
    [`${server.url}/ok/%2e%2e%2fx.gguf`, undefined, "invalid_model_source", "source"],
    [`${server.url}/ok/a%2fb.gguf`, undefined, "invalid_model_source", "source"],
    [`${server.url}/ok/x%00.gguf`, undefined, "invalid_model_source", "source"],
    [`${server.url}/ok/..%5cx.gguf`, undefined, "invalid_model_source", "source"],
    [`${server.url}/ok/`, undefined, "invalid_model_source", "source"],
    [`${server.url}/ok/model.bin`, undefined, "invalid_model_source", "source"],
    ["hf:owner/repo/%2e%2e%2fx.gguf", undefined, "invalid_model_source", "source"],
    ["hf:owner/repo/../x.gguf", undefined, "invalid_model_source", "source"],
    ["s3://models/dir/..%2fx.gguf", undefined, "invalid_model_source", "source"],
    ["file:///etc/passwd", undefined, "invalid_model_source", "source"],
    ["ftp://127.0.0.1/x.gguf", undefined, "invalid_model_source", "source"],
    ["javascript:alert(1)", undefined, "invalid_model_source", "source"],
    ["", undefined, "invalid_model_source", "source"],
    ["x\0.gguf", undefined, "invalid_model_source", "source"],
  ];
  const before = server.requests.length;
  for (const [source, name, code, param] of bad) {
    const dir = await fresh();
    await assert.rejects(pullModel(source, { allowPrivateAddresses: true, modelsDir: dir, name, hfEndpoint: server.url }), isError(code, param), JSON.stringify([source, name]));
    assert.deepEqual(await listDir(dir), [], JSON.stringify([source, name]));
  }
  assert.equal(server.requests.length, before, "no request was made");
});

test("a chosen name replaces the source's", async () => {
  const dir = await fresh();
  const result = await pullModel(`${server.url}/ok/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir, name: "renamed" });
  assert.equal(result.id, "renamed");
  assert.deepEqual(await listDir(dir), ["renamed.gguf"]);
});

test("pullTarget names the file a pull would write, without I/O", () => {
  assert.deepEqual(pullTarget("hf:owner/repo:dev/sub/Model-Q8_0.gguf"), { name: "Model-Q8_0.gguf", id: "Model-Q8_0" });
  assert.deepEqual(pullTarget("s3://bucket/a/b.gguf", { name: "c" }), { name: "c.gguf", id: "c" });
  assert.throws(() => pullTarget("https://example.com/%2e%2e%2fx.gguf"), isError("invalid_model_source", "source"));
});
