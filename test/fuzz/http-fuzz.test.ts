import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { WebSocket } from "ws";
import { resolveConfig } from "../../src/config/loadConfig.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { fuzzCase, ROUTES, type FuzzCase } from "./bodies.ts";

/**
 * Seeded, bounded fuzzing of every JSON route with malformed and adversarial bodies. The server
 * must never answer 5xx (502 and 503 are allowed only where the route's own contract says so),
 * never crash or restart its runner, shape every error as OpenAI does, keep answering /health,
 * and give its memory back. HEARTH_FUZZ_COUNT and HEARTH_FUZZ_SEED change the run
 * (`npm run test:fuzz -- --count 20000`); a failure names the seed and case index to replay.
 */
const COUNT = Number(process.env.HEARTH_FUZZ_COUNT ?? 2000);
const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? 1);
const CONCURRENCY = 4;
// About 35 cases a route, so that every route's largest bodies are in the baseline (400 for 12 routes before).
const WARM_UP = Number(process.env.HEARTH_FUZZ_WARM_UP ?? 35 * ROUTES.length);
const ADMIN = "admin-key-for-the-fuzz-test-0123";
/** RSS may grow this much over the run (the in-process server, after a GC): generous, for allocator slack. */
const RSS_SLACK = 150 * 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let server: TestServer;
before(async () => {
  server = await startServer({
    config: {
      auth: "required", admin_key: ADMIN,
      inference: { context_length: 256, max_tokens: 4 }, batching: { max_batch_size: 4, timeout_ms: 60_000 },
    },
  });
});
after(() => server.close());

interface Outcome { status: number; contentType: string; text: string }

async function send(c: FuzzCase): Promise<Outcome> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN}` };
  let payload: string | Uint8Array;
  if ("json" in c.body) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(c.body.json) ?? "null";
  } else {
    if (c.body.contentType !== null) headers["content-type"] = c.body.contentType;
    payload = c.body.raw;
  }
  let res: Response;
  try {
    res = await fetch(`${server.url}${c.path}`, { method: "POST", headers, body: payload });
  } catch (err) {
    // fetch refuses some headers itself (a NUL in Content-Type): nothing reached the server.
    if (err instanceof TypeError && !(err.cause as { code?: string } | undefined)?.code) return { status: 0, contentType: "", text: "" };
    throw err;
  }
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** Every error object, in a JSON body, in SSE `data:` lines or in NDJSON lines (Ollama's). */
function errorsIn(o: Outcome): unknown[] {
  if (o.contentType.startsWith("application/x-ndjson")) {
    return o.text.split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { error?: unknown }).error).filter((e) => e !== undefined);
  }
  if (o.contentType.startsWith("text/event-stream")) {
    const found: unknown[] = [];
    for (const line of o.text.split("\n")) {
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const data = JSON.parse(line.slice(6)) as { error?: unknown };
      if (data.error !== undefined) found.push(data.error);
    }
    return found;
  }
  if (o.status < 400) return [];
  return [(JSON.parse(o.text) as { error?: unknown }).error];
}

function check(c: FuzzCase, o: Outcome, where: string): void {
  if (o.status === 0) return;
  assert.ok(o.status < 500, `${where}: ${o.status} ${o.text.slice(0, 300)}`);
  if (c.path === "/v1/models/pull") assert.ok(o.status >= 400, `${where}: a pull started: ${o.text.slice(0, 200)}`);
  for (const e of errorsIn(o)) {
    // Ollama's error is its message alone; OpenAI's and Anthropic's an object with a message and a type.
    if (c.path.startsWith("/api/")) {
      assert.equal(typeof e, "string", `${where}: Ollama's error in ${o.text.slice(0, 300)}`);
      continue;
    }
    const error = e as { message?: unknown; type?: unknown };
    assert.equal(typeof error?.message, "string", `${where}: error.message in ${o.text.slice(0, 300)}`);
    assert.equal(typeof error?.type, "string", `${where}: error.type in ${o.text.slice(0, 300)}`);
  }
}

async function healthy(): Promise<void> {
  const res = await fetch(`${server.url}/health`);
  const body = await res.json() as { status?: string };
  assert.equal(res.status, 200, `/health: ${JSON.stringify(body)}`);
}

function rss(): number {
  gc();
  gc();
  return process.memoryUsage().rss;
}

test(`${COUNT} adversarial bodies (seed ${SEED}) get 4xx errors in their protocol's shape or answers, never a 5xx, crash or leak`, { timeout: Math.max(600_000, COUNT * 200) }, async () => {
  const runner = () => server.hearth.router.runner("tiny");
  const pid = runner()?.pid;
  const loads = server.hearth.router.loadCount("tiny");
  assert.ok(pid, "the runner is up");
  // Warm-up with other cases of the same kinds, so that what grows once and is then reused (the
  // embedded database's memory, the allocator's arenas after the largest bodies, JIT code) is in
  // the baseline, and what grows with every request is not.
  for (let i = 0; i < WARM_UP; i++) await send(fuzzCase(SEED + 1_000_000, i));
  const baseline = rss();
  const statuses = new Map<number, number>();
  // Every failing case is kept, so that one run reports them all.
  const failures: string[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; i < COUNT; i = next++) {
      const c = fuzzCase(SEED, i);
      const where = `seed ${SEED} case ${i} ${c.path}`;
      const o = await send(c);
      statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
      try {
        check(c, o, where);
      } catch (err) {
        failures.push((err as Error).message.split("\n")[0]!);
      }
      if (i % 250 === 0) await healthy();
      if (process.env.HEARTH_FUZZ_TRACE && i % 500 === 0) console.log(`fuzz: case ${i}: RSS +${((process.memoryUsage().rss - baseline) / 1048576).toFixed(0)} MiB`);
    }
  }));
  await healthy();
  const seconds = (performance.now() - started) / 1000;
  assert.equal(runner()?.pid, pid, "the runner never restarted");
  assert.equal(server.hearth.router.loadCount("tiny"), loads, "the model was never reloaded");
  const grown = rss() - baseline;
  console.log(`fuzz: ${COUNT} cases in ${seconds.toFixed(1)} s; RSS ${grown >= 0 ? "+" : ""}${(grown / 1048576).toFixed(1)} MiB; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.deepEqual(failures.slice(0, 30), [], `${failures.length} failing cases`);
  assert.ok(grown < RSS_SLACK, `RSS grew ${(grown / 1048576).toFixed(0)} MiB over the run`);
});

/** The next message on a socket, or an error once it closes or `ms` pass. */
function nextMessage(ws: WebSocket, queue: string[], ms: number): Promise<string> {
  if (queue.length) return Promise.resolve(queue.shift()!);
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => { clearTimeout(timer); ws.off("message", onMessage); ws.off("close", onClose); if (err) reject(err); else resolve(queue.shift()!); };
    const onMessage = () => done();
    const onClose = (code: number, reason: Buffer) => done(new Error(`the socket closed (${code} ${reason.toString()})`));
    const timer = setTimeout(() => done(new Error(`no message within ${ms} ms`)), ms);
    ws.on("message", onMessage);
    ws.on("close", onClose);
  });
}

/** The server's body_limit_bytes (the default): a WebSocket message over it closes the socket with 1009 (message too big), HTTP's 413. */
const BODY_LIMIT = resolveConfig({}, {}).body_limit_bytes;

async function openSocket(queue: string[]): Promise<WebSocket> {
  const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/v1/chat/completions/ws`, { headers: { authorization: `Bearer ${ADMIN}` } });
  ws.on("message", (data) => queue.push(data.toString()));
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  return ws;
}

test("the chat route's fuzz bodies as WebSocket messages get OpenAI-shaped errors or streams, and the socket stays open", { timeout: 600_000 }, async () => {
  const queue: string[] = [];
  let ws = await openSocket(queue);
  const failures: string[] = [];
  let sent = 0;
  let tooBig = 0;
  try {
    for (let i = 0; sent < Math.ceil(COUNT / 5); i++) {
      const c = fuzzCase(SEED, i);
      if (c.path !== "/v1/chat/completions") continue;
      sent++;
      const where = `seed ${SEED} case ${i} over the WebSocket`;
      const payload = "json" in c.body ? JSON.stringify(c.body.json) ?? "null" : c.body.raw;
      if (Buffer.byteLength(payload) > BODY_LIMIT) {
        const [code] = await Promise.all([new Promise<number>((resolve) => ws.once("close", resolve)), ws.send(payload)]);
        if (code !== 1009) failures.push(`${where}: a message over the body limit closed the socket with ${code}, not 1009`);
        tooBig++;
        ws = await openSocket(queue);
        continue;
      }
      ws.send(payload, { binary: typeof payload !== "string" });
      // A refusal is one error message; a stream is chunks (an error among them if it fails) and [DONE].
      for (let n = 0; ; n++) {
        const text = await nextMessage(ws, queue, 60_000).catch((err: Error) => { throw new Error(`${where}: ${err.message}`); });
        if (text === "[DONE]") break;
        const message = JSON.parse(text) as { error?: { message?: unknown; type?: unknown } };
        if (message.error !== undefined) {
          if (typeof message.error.message !== "string" || typeof message.error.type !== "string") failures.push(`${where}: ${text.slice(0, 200)}`);
          if (/server_error|internal/.test(text)) failures.push(`${where}: a server error: ${text.slice(0, 200)}`);
          if (n === 0) break;
        }
      }
    }
    console.log(`fuzz: ${sent} WebSocket messages, ${tooBig} of them over the body limit`);
    assert.equal(ws.readyState, WebSocket.OPEN, "the socket is still open");
    assert.deepEqual(failures.slice(0, 30), [], `${failures.length} failing cases`);
    await healthy();
  } finally {
    ws.terminate();
  }
});
