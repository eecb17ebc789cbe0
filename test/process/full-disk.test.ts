import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, openSync, closeSync, rmSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import OpenAI from "openai";
import { openStore } from "../../src/store/openStore.ts";
import { serveProcess, type ServerProcess } from "../helpers/serveProcess.ts";
import { waitUntil } from "../helpers/wait.ts";
import { PG_URL, postgres, pglite, type Backend, type TestDatabase } from "../store/backends.ts";

/**
 * A data folder on a small tmpfs of its own, filled to the last byte while the server runs: the
 * real ENOSPC, not a simulated one. Mounting needs root (CI runs as root); elsewhere it is skipped.
 */
function mountSmallDisk(): { dir: string; unmount: () => void } | null {
  const dir = mkdtempSync(join(tmpdir(), "hearth-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", dir], { stdio: "ignore" });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return { dir, unmount: () => { execFileSync("umount", ["-l", dir]); rmSync(dir, { recursive: true, force: true }); } };
}

/** Writes zeros until the disk says ENOSPC; returns the filler's path (delete it to free the space). */
function fill(dir: string): string {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  const block = Buffer.alloc(1 << 20);
  try {
    for (let size = block.length; size >= 1;) {
      try {
        if (writeSync(fd, block, 0, size) < size) size >>= 1;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
        size >>= 1;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

const disk = mountSmallDisk();
const JOURNAL_ERROR = /usage journal: cannot write/g;
const DATABASE_ERROR = /usage log: cannot write to the database/g;

async function chat(client: OpenAI, i: number, ids: string[]): Promise<void> {
  const body = { model: "tiny", messages: [{ role: "user" as const, content: `Say something, ${i}` }], max_tokens: 6 };
  if (i % 2 === 0) {
    ids.push((await client.chat.completions.create(body)).id);
  } else {
    let id = "";
    for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) id ||= chunk.id;
    ids.push(id);
  }
}

async function rowsOf(data: string, db: TestDatabase | null): Promise<string[]> {
  const store = db ? await db.open() : await openStore({ dataDir: data });
  try {
    return (await store.query<{ request_id: string }>("SELECT request_id FROM usage_log")).rows.map((r) => r.request_id);
  } finally {
    await store.close();
  }
}

function fullDiskTest(backend: Backend): void {
  test(`${backend.name}: with the data folder's disk full, every answered request still has its row, and the log says so once`, { skip: disk ? false : "mounting a tmpfs needs root", timeout: 180_000 }, async () => {
    const data = join(disk!.dir, backend.name);
    const configDir = await mkdtemp(join(tmpdir(), "hearth-disk-config-"));
    const db = backend.name === "postgres" ? await backend.create() : null;
    let server: ServerProcess | undefined;
    try {
      server = await serveProcess(data, db ? { database_url: PG_URL, database_schema: db.name } : {}, configDir);
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 30_000 });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) await chat(client, i, ids);
      const filler = fill(disk!.dir);
      for (let i = 4; i < 44; i++) await chat(client, i, ids);
      assert.equal((await fetch(`${server.url}/health`)).status, 200, "the server keeps serving");
      assert.equal(server.output().match(JOURNAL_ERROR)?.length, 1, `the journal's trouble is told once:\n${server.output()}`);
      assert.ok((server.output().match(DATABASE_ERROR)?.length ?? 0) <= 1, "the database's trouble (PGlite on the same disk) is told once");

      rmSync(filler);
      for (let i = 44; i < 50; i++) await chat(client, i, ids);
      await waitUntil(() => /usage journal: .* is writable again/.test(server!.output()), "the journal says it is writable again", 30_000);

      server.child.kill("SIGTERM");
      if (server.child.exitCode === null) await once(server.child, "exit");
      const rows = await rowsOf(data, db);
      assert.deepEqual(ids.filter((id) => !rows.includes(id)), [], "every answered request has a row");
      assert.equal(new Set(rows).size, rows.length, "no request twice");
    } finally {
      if (server?.child.exitCode === null) { server.child.kill("SIGKILL"); await once(server.child, "exit"); }
      await db?.drop();
      await rm(data, { recursive: true, force: true });
      await rm(configDir, { recursive: true, force: true });
    }
  });
}

fullDiskTest(postgres);
fullDiskTest(pglite);

test.after(() => disk?.unmount());
