import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { HearthError } from "../../src/errors.ts";
import { generateModel } from "../../src/models/generator/generateModel.ts";
import { presets } from "../../src/models/generator/presets.ts";
import { checkGgufFile } from "../../src/models/gguf/checkGgufFile.ts";
import { pullModel } from "../../src/models/pull/pullModel.ts";
import { testModel } from "../helpers/models.ts";
import { deadPort, listDir, scratch, sha256, startCuttingProxy } from "./fixtures.ts";

/** s3rver, a real S3-compatible server, on an ephemeral port with its store in a temp folder. */
const { root, fresh: freshDir } = await scratch("s3");
const storeDir = join(root, "store");
const s3rver = new S3rver({ address: "127.0.0.1", port: 0, directory: storeDir, silent: true, configureBuckets: [{ name: "models", configs: [] }] });
const { port } = await s3rver.run();
after(() => s3rver.close());

const env = { AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" };
const client = new S3Client({ endpoint: env.AWS_ENDPOINT_URL, forcePathStyle: true, region: env.AWS_REGION, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
after(() => client.destroy());

const model = await readFile(await testModel("tiny"));
const modelSha = sha256(model);
// About 1 MB, so that a transfer spans many network chunks and can be stopped midway.
const midPath = join(root, "mid.gguf");
await generateModel({ ...presets.tiny, width: 256, ff: 512, out: midPath, seed: 3, name: "mid" });
const mid = await readFile(midPath);

await client.send(new PutObjectCommand({ Bucket: "models", Key: "team/tiny.gguf", Body: model }));
await client.send(new PutObjectCommand({ Bucket: "models", Key: "team/tagged.gguf", Body: model, Metadata: { sha256: modelSha } }));
await client.send(new PutObjectCommand({ Bucket: "models", Key: "team/wrong.gguf", Body: model, Metadata: { sha256: "e".repeat(64) } }));
await client.send(new PutObjectCommand({ Bucket: "models", Key: "team/mid.gguf", Body: mid }));

const isError = (code: string, status: number) => (e: unknown) => HearthError.is(e) && e.code === code && e.statusCode === status;

test("s3://bucket/key from an S3-compatible store ends loadable and checksum-clean", async () => {
  const dir = await freshDir();
  const result = await pullModel("s3://models/team/tiny.gguf", { allowPrivateAddresses: true, modelsDir: dir, env });
  assert.equal(result.sha256, modelSha);
  assert.equal(result.verified, "size");
  await checkGgufFile(result.path);
  assert.deepEqual(await listDir(dir), ["tiny.gguf"]);
});

test("a sha256 in the object's metadata is checked", async () => {
  const dir = await freshDir();
  assert.equal((await pullModel("s3://models/team/tagged.gguf", { allowPrivateAddresses: true, modelsDir: dir, env })).verified, "sha256");
  await assert.rejects(pullModel("s3://models/team/wrong.gguf", { allowPrivateAddresses: true, modelsDir: dir, env }), isError("checksum_mismatch", 502));
  assert.deepEqual(await listDir(dir), ["tagged.gguf"]);
});

test("an S3 pull cut midway keeps the partial; the next resumes it with a ranged GET", async () => {
  const proxy = await startCuttingProxy(port, 300_000);
  after(() => proxy.close());
  const proxied = { ...env, AWS_ENDPOINT_URL: `http://127.0.0.1:${proxy.port}` };
  const dir = await freshDir();
  await assert.rejects(pullModel("s3://models/team/mid.gguf", { allowPrivateAddresses: true, modelsDir: dir, env: proxied }), isError("pull_failed", 502));
  assert.equal(proxy.cuts, 1);
  assert.deepEqual(await listDir(dir), [".mid.gguf.partial", ".mid.gguf.partial.json"]);
  const result = await pullModel("s3://models/team/mid.gguf", { allowPrivateAddresses: true, modelsDir: dir, env: proxied });
  assert.ok(result.resumedFromBytes > 0 && result.resumedFromBytes < mid.length, `resumed from ${result.resumedFromBytes} of ${mid.length}`);
  assert.equal(result.sha256, sha256(mid));
  await checkGgufFile(result.path);
  assert.deepEqual(await listDir(dir), ["mid.gguf"]);
});

test("an abort keeps the partial and rejects with the signal's reason", async () => {
  const dir = await freshDir();
  const controller = new AbortController();
  const reason = new Error("stop");
  await assert.rejects(pullModel("s3://models/team/mid.gguf", {
    allowPrivateAddresses: true,
    modelsDir: dir,
    env,
    signal: controller.signal,
    onProgress: (p) => { if (p.phase === "downloading") controller.abort(reason); },
  }), (e: unknown) => e === reason);
  assert.ok(!(await listDir(dir)).includes("mid.gguf"));
});

test("a missing key or bucket is a 404; an unreachable store is a 502; nothing is left behind", async () => {
  const cases: [string, typeof env, string, number][] = [
    ["s3://models/team/missing.gguf", env, "model_source_not_found", 404],
    ["s3://no-such-bucket/x.gguf", env, "model_source_not_found", 404],
    ["s3://models/team/tiny.gguf", { ...env, AWS_ENDPOINT_URL: `http://127.0.0.1:${await deadPort()}` }, "pull_failed", 502],
  ];
  for (const [source, e, code, status] of cases) {
    const dir = await freshDir();
    await assert.rejects(pullModel(source, { allowPrivateAddresses: true, modelsDir: dir, env: e }), isError(code, status), source);
    assert.deepEqual(await listDir(dir), [], source);
  }
});
