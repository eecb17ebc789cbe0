import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { HearthError } from "../../src/errors.ts";
import { pullModel } from "../../src/models/pull/pullModel.ts";
import { testModel } from "../helpers/models.ts";
import { listDir, startServer } from "./fixtures.ts";

/**
 * A full disk, for real: a 64 KiB tmpfs, smaller than the ~85 KB model. Mounting needs root (or
 * CAP_SYS_ADMIN); elsewhere these tests are skipped.
 */
const run = promisify(execFile);
const model = await readFile(await testModel("tiny"));
const server = await startServer({
  "/sized/tiny.gguf": { kind: "file", body: model },
  "/chunked/tiny.gguf": { kind: "file", body: model, chunked: true },
});
const mountPoint = await mkdtemp(join(tmpdir(), "hearth-pull-full-"));
let mounted = false;
before(async () => {
  mounted = await run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint]).then(() => true, () => false);
});
after(async () => {
  if (mounted) await run("umount", [mountPoint]);
  await rmdir(mountPoint).catch(() => {});
  await server.close();
});

const isStorage = (e: unknown) => HearthError.is(e) && e.code === "insufficient_storage" && e.statusCode === 507;

test("a file larger than the free space is refused before the transfer", async (t) => {
  if (!mounted) return t.skip("cannot mount a tmpfs here (needs root)");
  const dir = join(mountPoint, "a");
  await assert.rejects(pullModel(`${server.url}/sized/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir }), (e: unknown) => isStorage(e) && /bytes needed/.test((e as Error).message));
  assert.deepEqual(await listDir(dir), []);
});

test("a disk that fills during a transfer of unknown size gives 507 and removes the temp file", async (t) => {
  if (!mounted) return t.skip("cannot mount a tmpfs here (needs root)");
  const dir = join(mountPoint, "b");
  await assert.rejects(pullModel(`${server.url}/chunked/tiny.gguf`, { allowPrivateAddresses: true, modelsDir: dir }), (e: unknown) => isStorage(e) && /ran out of space/.test((e as Error).message));
  assert.deepEqual(await listDir(dir), []);
});
