import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import OpenAI from "openai";
import { openStore } from "../../src/store/openStore.ts";
import { serveProcess, type ServerProcess } from "../helpers/serveProcess.ts";
import { waitUntil } from "../helpers/wait.ts";
import { PG_URL, postgres, pglite, type Backend, type TestDatabase } from "../store/backends.ts";

type Server = ServerProcess;

/** `hearth serve` with the usage log in its data folder (PGlite) or in `db` (PostgreSQL). */
const serve = (data: string, db: TestDatabase | null) => serveProcess(data, db ? { database_url: PG_URL, database_schema: db.name } : {});

interface Outcome { id: string | null; complete: boolean; maxTokens: number; chunks: number }

/** Clients that send streamed and plain chat requests one after another until `stop`, noting each answer's id and whether it arrived whole. */
function load(url: string, clients: number, stop: () => boolean): { outcomes: Outcome[]; done: Promise<void> } {
  const outcomes: Outcome[] = [];
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 30_000 });
  const one = async (i: number) => {
    const body = { model: "tiny", messages: [{ role: "user" as const, content: `Say something, ${i}` }], max_tokens: 8 + (i * 7) % 40 };
    const o: Outcome = { id: null, complete: false, maxTokens: body.max_tokens, chunks: 0 };
    outcomes.push(o);
    try {
      if (i % 2 === 0) {
        o.id = (await client.chat.completions.create(body)).id;
      } else {
        let finished = false;
        for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) {
          o.id ??= chunk.id;
          o.chunks++;
          finished ||= chunk.choices[0]?.finish_reason != null;
        }
        if (!finished) return;
      }
      o.complete = true;
    } catch {
      // Cut by the crash: its id (when a stream had begun) is kept, not complete.
    }
  };
  const worker = async (w: number) => {
    for (let i = w; !stop(); i += clients) await one(i);
  };
  return { outcomes, done: Promise.all(Array.from({ length: clients }, (_, w) => worker(w))).then(() => {}) };
}

/** SIGTERM: the server drains and writes what it holds, then the rows are read. */
async function stopAndRead(server: Server, data: string, db: TestDatabase | null) {
  server.child.kill("SIGTERM");
  if (server.child.exitCode === null) await once(server.child, "exit");
  const store = db ? await db.open() : await openStore({ dataDir: data });
  try {
    return (await store.query<{ request_id: string; status: number; finish_reason: string | null }>("SELECT request_id, status, finish_reason FROM usage_log")).rows;
  } finally {
    await store.close();
  }
}

const until = (what: () => boolean, why: string) => waitUntil(what, why, 120_000);

function crashTest(backend: Backend): void {
  test(`${backend.name}: after a kill -9 under load, every answered request has exactly one usage row, and those cut short are interrupted`, { timeout: 180_000 }, async () => {
    const data = await mkdtemp(join(tmpdir(), "hearth-crash-"));
    const db = backend.name === "postgres" ? await backend.create() : null;
    try {
      const first = await serve(data, db);
      let killed = false;
      const { outcomes, done } = load(first.url, 4, () => killed);
      // Killed while a long stream has only begun: at least one request is surely under way (on a
      // starved machine the clients may otherwise all sit between requests at that moment).
      const begun = (o: Outcome) => o.id !== null && !o.complete && o.chunks <= 2 && o.maxTokens >= 30;
      await until(() => outcomes.filter((o) => o.complete).length >= 40 && outcomes.some(begun), "40 answers and a long stream begun");
      const exited = once(first.child, "exit");
      first.child.kill("SIGKILL");
      killed = true;
      await Promise.all([done, exited]);

      const second = await serve(data, db);
      const rows = await stopAndRead(second, data, db);
      const byId = new Map<string, typeof rows>();
      for (const r of rows) byId.set(r.request_id, [...(byId.get(r.request_id) ?? []), r]);
      const complete = outcomes.filter((o) => o.complete);
      const lost = complete.filter((o) => byId.get(o.id!)?.length !== 1);
      assert.deepEqual(lost, [], `${lost.length} of ${complete.length} answered requests without exactly one row`);
      assert.ok(complete.every((o) => byId.get(o.id!)![0]!.finish_reason !== "interrupted"), "an answered request is not interrupted");
      const cut = outcomes.filter((o) => !o.complete && o.id !== null);
      assert.ok(cut.length > 0, "a stream was cut");
      for (const o of cut) {
        const row = byId.get(o.id!);
        assert.equal(row?.length, 1, "a stream cut by the crash has one row");
        assert.deepEqual([row[0]!.finish_reason, row[0]!.status], ["interrupted", 500], "a stream cut by the crash is interrupted");
      }
      assert.equal(byId.size, rows.length, "no request twice");
    } finally {
      await db?.drop();
      await rm(data, { recursive: true, force: true });
    }
  });
}

crashTest(pglite);
crashTest(postgres);

test("pglite: a runner killed under load is restarted, the server keeps serving, and the requests it cut have rows", { timeout: 180_000 }, async () => {
  const data = await mkdtemp(join(tmpdir(), "hearth-crash-"));
  try {
    const server = await serve(data, null);
    let stop = false;
    const { outcomes, done } = load(server.url, 4, () => stop);
    await until(() => outcomes.filter((o) => o.complete).length >= 10, "10 answers");
    process.kill(server.runnerPid, "SIGKILL");
    const cutAt = outcomes.length;
    await until(() => /ready in runner \d+/.test(server.output().split("exited (SIGKILL)")[1] ?? ""), "the runner is back");
    await until(() => outcomes.slice(cutAt + 4).filter((o) => o.complete).length >= 10, "10 answers from the new runner");
    stop = true;
    await done;
    const rows = await stopAndRead(server, data, null);
    const ids = new Set(rows.map((r) => r.request_id));
    const answered = outcomes.filter((o) => o.id !== null);
    assert.deepEqual(answered.filter((o) => !ids.has(o.id!)), [], "every request with an id has a row");
    assert.ok(rows.some((r) => r.status >= 500), "the requests the runner's death cut are recorded as failed");
    assert.equal(ids.size, rows.length, "no request twice");
  } finally {
    await rm(data, { recursive: true, force: true });
  }
});
