import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { access, mkdtemp, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { LockHeldError, lockFile } from "../../src/util/lockFile.ts";
import { openStore } from "../../src/store/openStore.ts";
import { waitUntil } from "../helpers/wait.ts";

const run = promisify(execFile);
let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), "hearth-lock-")); });
after(() => rm(dir, { recursive: true, force: true }));

const exists = (path: string) => access(path).then(() => true, () => false);

test("a second Hearth process on the same data dir fails with a clear error; the first keeps working", async () => {
  const dataDir = join(dir, "shared");
  const store = await openStore({ dataDir });
  try {
    const script = `import(${JSON.stringify(new URL("../../src/store/openStore.ts", import.meta.url).href)})
      .then((m) => m.openStore({ dataDir: ${JSON.stringify(dataDir)} }))
      .then(() => process.exit(0), (e) => { console.error(e.name + ": " + e.message); process.exit(3); });`;
    const child = await run(process.execPath, ["--input-type=module", "-e", script]).then(() => ({ code: 0, stderr: "" }), (e: { code: number; stderr: string }) => e);
    assert.equal(child.code, 3);
    assert.match(child.stderr, new RegExp(`LockHeldError: The embedded database .* is in use by process ${process.pid} on ${hostname()}`));
    assert.match(child.stderr, /PostgreSQL database URL/);

    await assert.rejects(openStore({ dataDir }), LockHeldError, "a second open in the same process too");
    assert.equal((await store.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one, 1);
  } finally {
    await store.close();
  }
  assert.equal(await exists(join(dataDir, "pglite.lock")), false, "close removes the lock");
});

test("a lock left by a process that died is taken over", async () => {
  const path = join(dir, "dead.lock");
  const child = spawn(process.execPath, ["-e", ""]);
  const pid = child.pid!;
  await new Promise((r) => child.once("exit", r));
  await writeFile(path, JSON.stringify({ pid, host: hostname(), token: "old", since: new Date().toISOString() }));
  const lock = await lockFile(path, "test");
  await lock.release();
  assert.equal(await exists(path), false);
});

test("a fresh lock from another host is respected; one untouched for longer than staleMs is taken over", async () => {
  const path = join(dir, "remote.lock");
  await writeFile(path, JSON.stringify({ pid: 1, host: "elsewhere", token: "remote", since: new Date().toISOString() }));
  await assert.rejects(lockFile(path, "The thing", { staleMs: 60_000 }), (e: unknown) => e instanceof LockHeldError && /in use by process 1 on elsewhere/.test(e.message));
  const old = new Date(Date.now() - 120_000);
  await utimes(path, old, old);
  const lock = await lockFile(path, "The thing", { staleMs: 60_000 });
  await lock.release();
});

test("an unreadable lock file is respected until it is stale", async () => {
  const path = join(dir, "garbled.lock");
  await writeFile(path, "{not json");
  await assert.rejects(lockFile(path, "x"), LockHeldError);
  const old = new Date(Date.now() - 120_000);
  await utimes(path, old, old);
  await (await lockFile(path, "x")).release();
});

test("the owner keeps its lock fresh while it holds it", async () => {
  const path = join(dir, "beat.lock");
  const lock = await lockFile(path, "x", { heartbeatMs: 20 });
  try {
    const old = new Date(Date.now() - 120_000);
    await utimes(path, old, old);
    await waitUntil(async () => Date.now() - (await stat(path)).mtimeMs < 10_000, "the owner touches its lock again");
  } finally {
    await lock.release();
  }
});
