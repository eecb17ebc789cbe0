import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Ollama } from "ollama";
import { openStore } from "../../src/store/openStore.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/**
 * Ollama's API at the HTTP edge, on the fake model: errors in Ollama's shape with Hearth's status
 * codes (validation, unknown models, unsupported fields, auth, limits), name mapping, the NDJSON
 * stream, load and unload requests, the Ollama listener, and the usage log's route.
 */
const ADMIN = "admin-key-for-ollama-tests-0123456";
let server: TestServer;
let data: string;
before(async () => {
  data = await mkdtemp(join(tmpdir(), "hearth-ollama-"));
  server = await startServer({ fake: { aliases: ["small"] }, config: { data_dir: data, ollama: { port: 0 } } });
});
after(async () => {
  await server.close();
  await rm(data, { recursive: true, force: true });
});

/** The official client's error: its status and Ollama's `error` text. */
async function refusal(call: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { status_code?: number; error?: string };
    assert.equal(typeof e.status_code, "number", String(err));
    return { status: e.status_code!, error: e.error! };
  }
  assert.fail("the call succeeded");
}

async function raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json", ...headers }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

const ollama = () => new Ollama({ host: server.url });
const user = [{ role: "user", content: "hello" }];

test("bad input is a 400 with Ollama's {error} body saying what is wrong", async () => {
  const cases: [() => Promise<unknown>, RegExp][] = [
    [() => ollama().chat({ model: "tiny", messages: [{ role: "robot", content: "x" }] }), /messages\.\[0\]\.role/],
    [() => ollama().chat({ model: "tiny", messages: user, options: { temperature: 7 } }), /options\.temperature/],
    [() => ollama().chat({ model: "tiny", messages: [{ role: "user", content: "x", images: ["aGk="] }] }), /Images are not supported/],
    [() => ollama().generate({ model: "tiny", prompt: "x", suffix: "y" }), /suffix/],
    [() => ollama().generate({ model: "tiny", prompt: "x", context: [1, 2] }), /'context'/],
    [() => ollama().generate({ model: "tiny", prompt: "x", images: ["aGk="] }), /Images/],
    [() => ollama().chat({ model: "tiny", messages: user, options: { mirostat: 2 } }), /mirostat/],
    [() => ollama().chat({ model: "tiny", messages: user, options: { num_ctx: 1 << 20 } }), /num_ctx.*context of 1024 tokens/],
    [() => ollama().chat({ model: "tiny", messages: user, format: { type: "object", properties: { a: { type: "string", pattern: "^x" } } } }), /keyword .pattern./],
    [() => ollama().chat({ model: "tiny", messages: user, keep_alive: "soon" }), /keep_alive/],
  ];
  for (const [call, message] of cases) {
    const { status, error } = await refusal(call());
    assert.equal(status, 400, error);
    assert.match(error, message);
  }
  const invalidJson = await raw("POST", "/api/chat", undefined, {});
  assert.equal(invalidJson.status, 400);
  assert.ok(typeof (JSON.parse(invalidJson.text) as { error: unknown }).error === "string", invalidJson.text);
  // A route of Ollama's that Hearth does not serve: a 404 the client can read, not OpenAI's object.
  const unserved = await refusal(ollama().copy({ source: "tiny", destination: "tiny2" }));
  assert.equal(unserved.status, 404);
  assert.match(unserved.error, /POST \/api\/copy/);
});

test("an unknown model is Ollama's 404 'model ... not found', named as the client named it, on every route that names one", async () => {
  const cases: [() => Promise<unknown>, string][] = [
    [() => ollama().chat({ model: "nope:7b", messages: user }), "nope:7b"],
    [() => ollama().generate({ model: "nope", prompt: "x" }), "nope"],
    [() => ollama().embed({ model: "nope:latest", input: "x" }), "nope:latest"],
    [() => ollama().show({ model: "nope" }), "nope"],
    [() => ollama().delete({ model: "nope" }), "nope"],
  ];
  for (const [call, name] of cases) assert.deepEqual(await refusal(call()), { status: 404, error: `model '${name}' not found` });
});

test("`name:latest` and a bare name are Hearth's model, aliases too; answers name the model as the client did; /api/tags lists each name", async () => {
  for (const model of ["tiny", "tiny:latest", "small", "small:latest"]) {
    const reply = await ollama().chat({ model, messages: user, options: { num_predict: 2 } });
    assert.equal(reply.model, model);
    assert.equal(reply.message.content, "Hello from");
  }
  const { models } = await ollama().list();
  assert.deepEqual(models.map((m) => m.name).sort(), ["small:latest", "tiny:latest"]);
});

test("a stream is Ollama's default: NDJSON pieces, then one object with done, done_reason and the figures; its text is the unstreamed reply's", async () => {
  const res = await raw("POST", "/api/chat", { model: "tiny", messages: user, options: { num_predict: 3, seed: 1 } });
  assert.equal(res.status, 200);
  assert.equal(res.type, "application/x-ndjson");
  const lines = res.text.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown> & { message: { content: string } });
  const last = lines.at(-1)!;
  assert.deepEqual(lines.map((l) => l.done), [...lines.slice(0, -1).map(() => false), true]);
  assert.equal(last.done_reason, "length");
  assert.equal(last.eval_count, 3);
  for (const key of ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_duration"]) assert.equal(typeof last[key], "number", key);
  assert.ok(!Number.isNaN(Date.parse(last.created_at as string)));
  const streamed = lines.map((l) => l.message.content).join("");
  const whole = await ollama().chat({ model: "tiny", messages: user, options: { num_predict: 3, seed: 1 } });
  assert.equal(streamed, whole.message.content);
  assert.equal(whole.done_reason, "length");
});

test("no messages (no prompt) loads the model; with keep_alive 0 it unloads it: one object, streamed as one line by default", async () => {
  const loaded = await ollama().chat({ model: "tiny", messages: [] });
  assert.deepEqual([loaded.done, loaded.done_reason, loaded.message.content], [true, "load", ""]);
  const unloaded = await ollama().generate({ model: "tiny", prompt: "", keep_alive: 0 });
  assert.deepEqual([unloaded.done, unloaded.done_reason, unloaded.response], [true, "unload", ""]);
  const line = await raw("POST", "/api/generate", { model: "tiny" });
  assert.match(line.type, /^application\/x-ndjson/);
  assert.equal((JSON.parse(line.text) as { done_reason: string }).done_reason, "load");
});

test("a bare Ollama registry name cannot be pulled: a 400 that says what can", async () => {
  const { status, error } = await refusal(ollama().pull({ model: "llama3.2" }));
  assert.equal(status, 400);
  assert.match(error, /Ollama's registry.*hf\.co\/owner\/repo:QUANT.*hf:owner\/repo\/file\.gguf.*https:\/\/.*s3:\/\//);
});

test("the Ollama listener: GET and HEAD / say 'Ollama is running' there only; the official client works unchanged against it; its Host names are guarded", async () => {
  const url = server.hearth.ollamaUrl!;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const root = await fetch(`${url}/`);
  assert.deepEqual([root.status, await root.text()], [200, "Ollama is running"]);
  assert.equal((await fetch(`${url}/`, { method: "HEAD" })).status, 200);
  assert.notEqual(await (await fetch(`${server.url}/`)).text(), "Ollama is running");
  const client = new Ollama({ host: url });
  assert.equal((await client.generate({ model: "tiny", prompt: "hi", options: { num_predict: 1 } })).response, "Hello");
  assert.equal((await client.version()).version, (await ollama().version()).version);
  // DNS rebinding: a loopback listener answers loopback Host names only, in Ollama's error shape.
  const port = new URL(url).port;
  const evil = await hostRequest(Number(port), "/api/tags", "evil.example");
  assert.equal(evil.status, 403);
  assert.match((JSON.parse(evil.body) as { error: string }).error, /Host header/);
  assert.equal((await hostRequest(Number(port), "/api/tags", `localhost:${port}`)).status, 200);
});

/** A GET with a Host header of our choosing (fetch does not let a caller set it). */
async function hostRequest(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => { body += c.toString(); });
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("with auth required: no key is a 401, a key's limits apply (429), admin routes need the admin key, all in Ollama's shape; the usage log has the request's route", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-ollama-auth-"));
  const s = await startServer({ fake: true, config: { data_dir: dir, auth: "required", admin_key: ADMIN } });
  try {
    const anonymous = await refusal(new Ollama({ host: s.url }).list());
    assert.equal(anonymous.status, 401);
    const created = await fetch(`${s.url}/v1/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ name: "ollama-user", rpm: 1 }) });
    const key = ((await created.json()) as { key: string }).key;
    const client = new Ollama({ host: s.url, headers: { authorization: `Bearer ${key}` } });
    assert.equal((await client.chat({ model: "tiny", messages: user, options: { num_predict: 1 } })).message.content, "Hello");
    const limited = await refusal(client.chat({ model: "tiny", messages: user }));
    assert.equal(limited.status, 429);
    assert.match(limited.error, /limit/i);
    const pull = await refusal(new Ollama({ host: s.url, headers: { authorization: `Bearer ${ADMIN}x` } }).pull({ model: "hf.co/a/b" }));
    assert.equal(pull.status, 401);
    const notAdmin = await refusal(client.delete({ model: "tiny" }));
    assert.equal(notAdmin.status, 403);
    assert.match(notAdmin.error, /admin/);
  } finally {
    await s.close();
  }
  const store = await openStore({ dataDir: dir });
  try {
    const { rows } = await store.query<{ route: string; status: number }>("SELECT route, status FROM usage_log ORDER BY ts");
    assert.deepEqual(rows.map((r) => [r.route, r.status]), [["/api/chat", 200], ["/api/chat", 429]]);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
