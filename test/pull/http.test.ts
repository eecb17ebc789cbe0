import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { HearthError } from "../../src/errors.ts";
import { checkGgufFile } from "../../src/models/gguf/checkGgufFile.ts";
import { pullModel, type PullProgress } from "../../src/models/pull/pullModel.ts";
import { testModel } from "../helpers/models.ts";
import { deadPort, listDir, scratch, sha256, startServer } from "./fixtures.ts";

const model = await readFile(await testModel("tiny"));
const modelSha = sha256(model);
const server = await startServer();
after(() => server.close());

const { fresh: freshDir } = await scratch("http");
const isError = (code: string, status: number) => (e: unknown) => HearthError.is(e) && e.code === code && e.statusCode === status;

test("a plain pull ends loadable, checksum-clean and reports progress up to the total", async () => {
  server.routes.set("/plain/tiny.gguf", { kind: "file", body: model });
  const dir = await freshDir();
  const events: PullProgress[] = [];
  const result = await pullModel(`${server.url}/plain/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir, onProgress: (p) => events.push(p) });
  assert.equal(result.id, "tiny");
  assert.equal(result.path, join(dir, "tiny.gguf"));
  assert.equal(result.sha256, modelSha);
  assert.equal(result.sizeBytes, model.length);
  assert.equal(result.resumedFromBytes, 0);
  assert.equal(result.verified, "size");
  assert.equal(sha256(await readFile(result.path)), modelSha);
  await checkGgufFile(result.path);
  assert.deepEqual(await listDir(dir), ["tiny.gguf"]);

  const phases = [...new Set(events.map((e) => e.phase))];
  assert.deepEqual(phases, ["connecting", "downloading", "verifying", "done"]);
  const downloading = events.filter((e) => e.phase === "downloading");
  for (let i = 1; i < downloading.length; i++) assert.ok(downloading[i]!.receivedBytes >= downloading[i - 1]!.receivedBytes);
  assert.equal(downloading.at(-1)!.receivedBytes, model.length);
  assert.equal(downloading.at(-1)!.totalBytes, model.length);
  assert.equal(downloading.at(-1)!.etaSeconds, 0);
  assert.ok(events.every((e) => e.source === `${server.url}/plain/tiny.gguf` && e.id === "tiny"));
});

test("a pull cut midway keeps only the partial; the next pull resumes it with a range and ends checksum-clean", async () => {
  server.routes.set("/cut/tiny.gguf", { kind: "file", body: model, cutAfter: 30_000, headers: { etag: '"v1"' } });
  const dir = await freshDir();
  const url = `${server.url}/cut/tiny.gguf`;
  await assert.rejects(pullModel(url, { allowPrivateAddresses: true, modelsDir: dir }), (e: unknown) => isError("pull_failed", 502)(e) && /connection was lost/.test((e as Error).message));
  assert.deepEqual(await listDir(dir), [".tiny.gguf.partial", ".tiny.gguf.partial.json"]);
  const partialSize = (await stat(join(dir, ".tiny.gguf.partial"))).size;
  assert.ok(partialSize > 0 && partialSize < model.length, `partial holds ${partialSize} bytes`);

  const before = server.requests.length;
  const result = await pullModel(url, { allowPrivateAddresses: true, modelsDir: dir });
  const resumed = server.requests.slice(before).filter((r) => r.path === "/cut/tiny.gguf");
  assert.equal(resumed.length, 1);
  assert.equal(resumed[0]!.range, `bytes=${partialSize}-`);
  assert.equal(resumed[0]!.ifRange, '"v1"', "the resume is conditional on the version first downloaded");
  assert.equal(result.resumedFromBytes, partialSize);
  assert.equal(result.sha256, modelSha);
  await checkGgufFile(result.path);
  assert.deepEqual(await listDir(dir), ["tiny.gguf"]);
});

test("a server that ignores the range (or holds another version) gets a fresh download, not a splice", async () => {
  for (const [path, route] of [
    ["/norange/tiny.gguf", { kind: "file" as const, body: model, cutAfter: 20_000 }],
    ["/changed/tiny.gguf", { kind: "file" as const, body: model, cutAfter: 20_000, headers: { etag: '"v1"' } }],
  ] as const) {
    server.routes.set(path, route);
    const dir = await freshDir();
    await assert.rejects(pullModel(`${server.url}${path}`, { allowPrivateAddresses: true, modelsDir: dir }), isError("pull_failed", 502));
    server.routes.set(path, path.startsWith("/norange")
      ? { ...route, cutAfter: undefined, ignoreRange: true }
      : { ...route, cutAfter: undefined, headers: { etag: '"v2"' } });
    const result = await pullModel(`${server.url}${path}`, { allowPrivateAddresses: true, modelsDir: dir });
    assert.equal(result.resumedFromBytes, 0, path);
    assert.equal(result.sha256, modelSha, path);
    assert.deepEqual(await listDir(dir), ["tiny.gguf"], path);
  }
});

test("an abort keeps the partial for a later resume", { timeout: 20_000 }, async () => {
  server.routes.set("/stall/tiny.gguf", { kind: "file", body: model, stallAfter: 40_000 });
  const dir = await freshDir();
  const controller = new AbortController();
  const reason = new Error("stop now");
  const pulling = pullModel(`${server.url}/stall/tiny.gguf`, {
    allowPrivateAddresses: true,
    modelsDir: dir,
    signal: controller.signal,
    onProgress: (p) => { if (p.receivedBytes >= 40_000) controller.abort(reason); },
  });
  await assert.rejects(pulling, (e: unknown) => e === reason);
  assert.deepEqual(await listDir(dir), [".tiny.gguf.partial", ".tiny.gguf.partial.json"]);
  server.routes.set("/stall/tiny.gguf", { kind: "file", body: model });
  const result = await pullModel(`${server.url}/stall/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir });
  assert.equal(result.resumedFromBytes, 40_000);
  assert.equal(result.sha256, modelSha);
});

test("a second pull of the same name while one runs is refused", { timeout: 20_000 }, async () => {
  server.routes.set("/busy/tiny.gguf", { kind: "file", body: model, stallAfter: 1000 });
  const dir = await freshDir();
  const controller = new AbortController();
  let started!: () => void;
  const downloading = new Promise<void>((resolve) => { started = resolve; });
  const first = pullModel(`${server.url}/busy/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir, signal: controller.signal, onProgress: (p) => { if (p.receivedBytes > 0) started(); } });
  await downloading;
  await assert.rejects(pullModel(`${server.url}/plain/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir }), isError("pull_in_progress", 409));
  controller.abort();
  await assert.rejects(first);
  server.routes.set("/plain/tiny.gguf", { kind: "file", body: model });
  assert.equal((await pullModel(`${server.url}/plain/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir })).sha256, modelSha, "the lock is released");
});

test("dead URL, 404, a text file as .gguf and a wrong #sha256 fail with their errors and leave nothing", async () => {
  server.routes.set("/text/notes.gguf", { kind: "file", body: Buffer.from("this is not a model\n".repeat(50)) });
  server.routes.set("/sha/tiny.gguf", { kind: "file", body: model });
  const cases: [string, string, number][] = [
    [`http://127.0.0.1:${await deadPort()}/x.gguf`, "pull_failed", 502],
    [`${server.url}/missing/x.gguf`, "model_source_not_found", 404],
    [`${server.url}/text/notes.gguf`, "invalid_model_file", 400],
    [`${server.url}/sha/tiny.gguf#sha256=${"0".repeat(64)}`, "checksum_mismatch", 502],
  ];
  for (const [source, code, status] of cases) {
    const dir = await freshDir();
    await assert.rejects(pullModel(source, { allowPrivateAddresses: true, modelsDir: dir }), isError(code, status), source);
    assert.deepEqual(await listDir(dir), [], source);
  }
  const dir = await freshDir();
  const result = await pullModel(`${server.url}/sha/tiny.gguf#sha256=${modelSha}`, { allowPrivateAddresses: true, modelsDir: dir });
  assert.equal(result.verified, "sha256");
});

test("a body shorter than its Content-Length never reaches the final name; the partial stays for a resume", async () => {
  server.routes.set("/short/tiny.gguf", { kind: "file", body: model.subarray(0, 1000), claimLength: model.length });
  const dir = await freshDir();
  await assert.rejects(pullModel(`${server.url}/short/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir }), isError("pull_failed", 502));
  assert.deepEqual(await listDir(dir), [".tiny.gguf.partial", ".tiny.gguf.partial.json"]);
});

test("an existing model of the same name: identical content succeeds without a change, different content is 409", async () => {
  server.routes.set("/exists/tiny.gguf", { kind: "file", body: model });
  const dir = await freshDir();
  await pullModel(`${server.url}/exists/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir });
  const again = await pullModel(`${server.url}/exists/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir });
  assert.equal(again.alreadyPresent, true);
  assert.equal(again.sha256, modelSha);
  assert.deepEqual(await listDir(dir), ["tiny.gguf"]);

  const other = join(dir, "other.gguf");
  await writeFile(other, "different, shorter content");
  await assert.rejects(pullModel(`${server.url}/exists/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir, name: "other" }), isError("model_exists", 409));
  assert.equal(await readFile(other, "utf8"), "different, shorter content");

  // Same size, different bytes: only the finished download can tell; the existing file is kept.
  const flipped = Buffer.from(model);
  flipped[flipped.length - 1]! ^= 0xff;
  await writeFile(other, flipped);
  await assert.rejects(pullModel(`${server.url}/exists/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir, name: "other" }), isError("model_exists", 409));
  assert.deepEqual(await readFile(other), flipped);
  assert.deepEqual(await listDir(dir), ["other.gguf", "tiny.gguf"]);
});
