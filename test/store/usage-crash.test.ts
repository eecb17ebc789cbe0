import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import OpenAI from "openai";
import { openStore } from "../../src/store/openStore.ts";
import { testModel } from "../helpers/models.ts";
import { waitUntil } from "../helpers/wait.ts";
import { PG_URL, postgres, pglite, type Backend, type TestDatabase } from "./backends.ts";

const root = new URL("../..", import.meta.url).pathname;

interface Server { child: ChildProcess; url: string; runnerPid: number; output: () => string }

/** `hearth serve` as a process of its own on the tiny model, with the usage log in `data` (PGlite) or `db` (PostgreSQL). */
async function serve(data: string, db: TestDatabase | null): Promise<Server> {
  const config = join(data, "hearth.yaml");
  writeFileSync(config, JSON.stringify({
    port: 0, data_dir: data, log_level: "info", cache: { enabled: false },
    model: { path: await testModel("tiny"), name: "tiny", threads: 1, gpu: "cpu" },
    inference: { context_length: 1024 }, batching: { max_batch_size: 4 },
    ...(db ? { database_url: PG_URL, database_schema: db.name } : {}),
  }));
  const child = spawn(process.execPath, [join(root, "bin/hearth.js"), "serve", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
  const seen = (pattern: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(out);
      if (m) { child.stdout!.off("data", check); child.off("exit", onExit); resolve(m); }
    };
    const onExit = (code: number | null) => reject(new Error(`hearth exited with ${code}: ${out}`));
    child.stdout!.on("data", check);
    child.once("exit", onExit);
    check();
  });
  const url = (await seen(/listening on (http:\/\/\S+)/))[1]!;
  const runnerPid = Number((await seen(/ready in runner (\d+)/))[1]);
  return { child, url, runnerPid, output: () => out };
}

interface Outcome { id: string | null; complete: boolean }

/** Clients that send streamed and plain chat requests one after another until `stop`, noting each answer's id and whether it arrived whole. */
function load(url: string, clients: number, stop: () => boolean): { outcomes: Outcome[]; done: Promise<void> } {
  const outcomes: Outcome[] = [];
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 30_000 });
  const one = async (i: number) => {
    const body = { model: "tiny", messages: [{ role: "user" as const, content: `Say something, ${i}` }], max_tokens: 8 + (i * 7) % 40 };
    const o: Outcome = { id: null, complete: false };
    outcomes.push(o);
    try {
      if (i % 2 === 0) {
        o.id = (await client.chat.completions.create(body)).id;
      } else {
        let finished = false;
        for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) {
          o.id ??= chunk.id;
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
      await until(() => outcomes.filter((o) => o.complete).length >= 40, "40 answers");
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
      assert.ok(cut.every((o) => byId.get(o.id!)?.length === 1), "a stream cut by the crash has one row");
      assert.ok(rows.some((r) => r.finish_reason === "interrupted" && r.status === 500), "the requests under way show as interrupted");
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
