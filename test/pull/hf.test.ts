import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { HearthError } from "../../src/errors.ts";
import { checkGgufFile } from "../../src/models/gguf/checkGgufFile.ts";
import { pullModel } from "../../src/models/pull/pullModel.ts";
import { testModel } from "../helpers/models.ts";
import { listDir, scratch, sha256, startServer, type Route } from "./fixtures.ts";

/**
 * Two servers laid out like the Hugging Face hub and its CDN: a resolve URL answers HEAD and GET
 * with a redirect to the CDN carrying X-Linked-Etag (the LFS sha256), X-Linked-Size, X-Repo-Commit
 * and the git ETag, as huggingface.co does for LFS files; the CDN serves the bytes with ranges.
 */
const model = await readFile(await testModel("tiny"));
const modelSha = sha256(model);
const hub = await startServer();
const cdn = await startServer();
after(() => Promise.all([hub.close(), cdn.close()]));

function publish(repoPath: string, body: Buffer, opts: { linkedEtag?: string; cdnRoute?: Partial<Extract<Route, { kind: "file" }>> } = {}): void {
  const sha = sha256(body);
  const cdnPath = `/repos/${sha.slice(0, 8)}/${sha}`;
  cdn.routes.set(cdnPath, { kind: "file", body, headers: { etag: `"${sha}"` }, ...opts.cdnRoute });
  hub.routes.set(repoPath, {
    kind: "redirect",
    to: `${cdn.url}${cdnPath}?response-content-disposition=attachment&X-Amz-Signature=abc`,
    headers: {
      "x-linked-etag": `"${opts.linkedEtag ?? sha}"`,
      "x-linked-size": String(body.length),
      "x-repo-commit": "0123456789abcdef0123456789abcdef01234567",
      etag: '"4d4f8e2a1c0b9e7d6c5b4a3928171615f4e3d2c1"',
    },
  });
}

publish("/owner/repo-GGUF/resolve/main/tiny.gguf", model);
publish("/owner/repo-GGUF/resolve/main/sub/dir/tiny-q8.gguf", model);
publish("/owner/repo-GGUF/resolve/dev/tiny.gguf", model);
publish("/owner/repo-GGUF/resolve/refs/pr/1/tiny.gguf", model);
hub.routes.set("/old-owner/repo-GGUF/resolve/main/tiny.gguf", { kind: "redirect", status: 307, to: "/owner/repo-GGUF/resolve/main/tiny.gguf" });

const { fresh: freshDir } = await scratch("hf");
const isError = (code: string, status: number) => (e: unknown) => HearthError.is(e) && e.code === code && e.statusCode === status;

test("hf: sources in each form resolve against the endpoint override and are checked against the hub's sha256", async () => {
  const cases: [source: string, name: string][] = [
    ["hf:owner/repo-GGUF/tiny.gguf", "tiny.gguf"],
    ["hf://owner/repo-GGUF/sub/dir/tiny-q8.gguf", "tiny-q8.gguf"],
    ["hf:owner/repo-GGUF:dev/tiny.gguf", "tiny.gguf"],
    ["hf:owner/repo-GGUF/tiny.gguf#refs/pr/1", "tiny.gguf"],
    ["huggingface:old-owner/repo-GGUF/tiny.gguf", "tiny.gguf"],
    [`${hub.url}/owner/repo-GGUF/blob/main/tiny.gguf`, "tiny.gguf"],
  ];
  for (const [source, name] of cases) {
    const dir = await freshDir();
    const result = await pullModel(source, { allowPrivateAddresses: true, modelsDir: dir, hfEndpoint: hub.url });
    assert.equal(result.sha256, modelSha, source);
    assert.equal(result.verified, "sha256", source);
    assert.equal(result.path, join(dir, name), source);
    await checkGgufFile(result.path);
    assert.deepEqual(await listDir(dir), [name], source);
  }
  const heads = hub.requests.filter((r) => r.method === "HEAD").map((r) => r.path);
  assert.ok(heads.includes("/owner/repo-GGUF/resolve/refs/pr/1/tiny.gguf"), "a revision with slashes is one encoded path segment");
});

test("HF_ENDPOINT from the environment; HF_TOKEN goes to the hub and never follows the redirect to the CDN", async () => {
  const dir = await freshDir();
  const hubBefore = hub.requests.length;
  const cdnBefore = cdn.requests.length;
  const result = await pullModel("hf:owner/repo-GGUF/tiny.gguf", { allowPrivateAddresses: true, modelsDir: dir, env: { HF_ENDPOINT: `${hub.url}/`, HF_TOKEN: "hf_test_secret" } });
  assert.equal(result.sha256, modelSha);
  const hubSeen = hub.requests.slice(hubBefore);
  assert.ok(hubSeen.length >= 2 && hubSeen.every((r) => r.authorization === "Bearer hf_test_secret"));
  const cdnSeen = cdn.requests.slice(cdnBefore);
  assert.equal(cdnSeen.length, 1);
  assert.equal(cdnSeen[0]!.authorization, undefined);
});

test("a pull cut at the CDN resumes through the hub's redirect with a range", async () => {
  const body = Buffer.from(model);
  publish("/owner/cut-GGUF/resolve/main/tiny.gguf", body, { cdnRoute: { cutAfter: 25_000 } });
  const dir = await freshDir();
  await assert.rejects(pullModel("hf:owner/cut-GGUF/tiny.gguf", { allowPrivateAddresses: true, modelsDir: dir, hfEndpoint: hub.url }), isError("pull_failed", 502));
  assert.deepEqual(await listDir(dir), [".tiny.gguf.partial", ".tiny.gguf.partial.json"]);
  const before = cdn.requests.length;
  const result = await pullModel("hf:owner/cut-GGUF/tiny.gguf", { allowPrivateAddresses: true, modelsDir: dir, hfEndpoint: hub.url });
  assert.equal(result.resumedFromBytes, 25_000);
  assert.equal(cdn.requests.slice(before).find((r) => r.method === "GET")?.range, "bytes=25000-");
  assert.equal(result.sha256, modelSha);
  assert.deepEqual(await listDir(dir), ["tiny.gguf"]);
});

test("a file whose bytes do not match the hub's sha256 is discarded: nothing under the final name, no temp file", async () => {
  publish("/owner/bad-GGUF/resolve/main/tiny.gguf", model, { linkedEtag: "f".repeat(64) });
  const dir = await freshDir();
  await assert.rejects(pullModel("hf:owner/bad-GGUF/tiny.gguf", { allowPrivateAddresses: true, modelsDir: dir, hfEndpoint: hub.url }),
    (e: unknown) => isError("checksum_mismatch", 502)(e) && (e as Error).message.includes(modelSha));
  assert.deepEqual(await listDir(dir), []);
});

test("a missing repository or file is a 404 model_source_not_found", async () => {
  const dir = await freshDir();
  await assert.rejects(pullModel("hf:owner/nothing-here/x.gguf", { allowPrivateAddresses: true, modelsDir: dir, hfEndpoint: hub.url }), isError("model_source_not_found", 404));
  assert.deepEqual(await listDir(dir), []);
});

test("the same file already present is recognised from the hub's sha256 without downloading; a different one is 409", async () => {
  const dir = await freshDir();
  await pullModel("hf:owner/repo-GGUF/tiny.gguf", { allowPrivateAddresses: true, modelsDir: dir, hfEndpoint: hub.url });
  const before = cdn.requests.length;
  const again = await pullModel("hf:owner/repo-GGUF/tiny.gguf", { allowPrivateAddresses: true, modelsDir: dir, hfEndpoint: hub.url });
  assert.equal(again.alreadyPresent, true);
  assert.equal(cdn.requests.length, before, "no download");

  const other = Buffer.from(model);
  other[other.length - 1]! ^= 1;
  publish("/owner/other-GGUF/resolve/main/tiny.gguf", other);
  await assert.rejects(pullModel("hf:owner/other-GGUF/tiny.gguf", { allowPrivateAddresses: true, modelsDir: dir, hfEndpoint: hub.url }), isError("model_exists", 409));
  assert.equal(cdn.requests.length, before, "refused before any download");
  assert.equal(sha256(await readFile(join(dir, "tiny.gguf"))), modelSha);
});

test("forms that name no file, or a bad endpoint, are refused with 400", async () => {
  for (const source of ["hf:owner/repo-GGUF", "hf:owner/repo-GGUF:Q4_K_M", "hf:owner", "hf:owner/repo/../x.gguf", "hf:owner/repo/tiny.gguf#sha256=zz"]) {
    await assert.rejects(pullModel(source, { allowPrivateAddresses: true, modelsDir: await freshDir(), hfEndpoint: hub.url }), isError("invalid_model_source", 400), source);
  }
  await assert.rejects(pullModel("hf:owner/repo-GGUF/tiny.gguf", { allowPrivateAddresses: true, modelsDir: await freshDir(), hfEndpoint: "ftp://mirror" }), isError("invalid_model_source", 400));
});
