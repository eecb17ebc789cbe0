import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { openStore } from "../../src/store/openStore.ts";
import { testModel } from "../helpers/models.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";

/** API keys, per-key limits, the usage log and the response cache, on the embedded store. */
const ADMIN = "admin-key-for-tests-0123456789";
let server: TestServer;
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-users-"));
  await copyFile(await testModel("tiny"), join(dir, "other.gguf"));
  server = await startServer({ config: { auth: "required", admin_key: ADMIN, models_dir: dir, cache: { enabled: true }, inference: { context_length: 2048 } } });
});
after(() => server.close());

const as = (key: string) => new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0 });
const call = async (method: string, path: string, key: string | null, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method, headers: { ...(key !== null ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: (text ? JSON.parse(text) : null) as Record<string, unknown> & { error?: { code: string; message: string; type: string } } };
};
const createKey = async (spec: Record<string, unknown>) => {
  const res = await call("POST", "/v1/admin/keys", ADMIN, spec);
  assert.equal(res.status, 201, res.text);
  return res.json.key as string;
};
const messages = [{ role: "user" as const, content: "hello" }];

test("with auth required every /v1 route and /metrics need a key; /health does not", async () => {
  for (const [method, path] of [["GET", "/v1/models"], ["POST", "/v1/chat/completions"], ["POST", "/v1/completions"], ["GET", "/metrics"], ["GET", "/v1/usage"], ["GET", "/v1/slots"], ["GET", "/v1/models/events"], ["GET", "/v1/stats"], ["GET", "/v1/nothing-here"]]) {
    const none = await call(method!, path!, null);
    assert.equal(none.status, 401, `${method} ${path}`);
    assert.equal(none.json.error?.code, "missing_api_key");
    const wrong = await call(method!, path!, "hth-not-a-real-key");
    assert.equal(wrong.status, 401, `${method} ${path}`);
    assert.equal(wrong.json.error?.code, "invalid_api_key");
    assert.ok(!wrong.text.includes("hth-not-a-real-key"), "the key is not echoed");
  }
  assert.equal((await call("GET", "/health", null)).status, 200);
});

test("a key works for its models only, sees only them, and stops working when revoked", async () => {
  const key = await createKey({ name: "alice", models: ["tiny"] });
  assert.match(key, /^hth-[\w-]{43}$/);
  const listed = await call("GET", "/v1/admin/keys", ADMIN);
  assert.ok(!listed.text.includes(key) && (listed.json.data as { name: string; prefix: string }[]).some((k) => k.name === "alice" && key.startsWith(k.prefix)));
  const ok = await as(key).chat.completions.create({ model: "tiny", messages, max_tokens: 2 });
  assert.equal(ok.usage?.completion_tokens, 2);
  const denied = await call("POST", "/v1/chat/completions", key, { model: "other", messages });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.error?.code, "model_not_allowed");
  assert.deepEqual((await as(key).models.list()).data.map((m) => m.id), ["tiny"]);
  assert.equal((await call("GET", "/v1/models/other", key)).status, 404, "another model does not exist for this key");
  for (const [method, path] of [["POST", "/v1/models/tiny/load"], ["POST", "/v1/models/tiny/unload"], ["POST", "/v1/models/pull"], ["GET", "/v1/admin/keys"]]) {
    const res = await call(method!, path!, key, method === "POST" ? {} : undefined);
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.equal(res.json.error?.code, "admin_required");
  }
  assert.equal((await call("DELETE", "/v1/admin/keys/alice", ADMIN)).status, 200);
  const revoked = await call("POST", "/v1/chat/completions", key, { model: "tiny", messages });
  assert.equal(revoked.status, 401);
  assert.equal(revoked.json.error?.code, "invalid_api_key");
});

test("over its requests per minute a key gets 429 rate_limit_exceeded with Retry-After and x-ratelimit headers", async () => {
  const key = await createKey({ name: "limited", rpm: 3, tpm: 100_000 });
  const statuses: number[] = [];
  let last: Awaited<ReturnType<typeof call>> | undefined;
  for (let i = 0; i < 4; i++) {
    last = await call("POST", "/v1/completions", key, { model: "tiny", prompt: `n${i}`, max_tokens: 2 });
    statuses.push(last.status);
    if (i === 0) {
      assert.equal(last.headers.get("x-ratelimit-limit-requests"), "3");
      assert.equal(last.headers.get("x-ratelimit-remaining-requests"), "2");
      assert.equal(last.headers.get("x-ratelimit-limit-tokens"), "100000");
      assert.match(last.headers.get("x-ratelimit-reset-requests") ?? "", /^\d+(\.\d+)?s$/);
    }
  }
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  assert.equal(last!.json.error?.code, "rate_limit_exceeded");
  assert.equal(last!.json.error?.type, "rate_limit_error");
  assert.ok(Number(last!.headers.get("retry-after")) >= 1);
  assert.equal(last!.headers.get("x-ratelimit-remaining-requests"), "0");
});

test("the usage log has one row per request, cancelled and refused ones included, with exact token sums", async () => {
  const key = await createKey({ name: "counted" });
  const client = as(key);
  let prompt = 0;
  let completion = 0;
  for (let i = 0; i < 3; i++) {
    const r = await client.completions.create({ model: "tiny", prompt: `count ${i}`, max_tokens: 3 + i, user: "end-user-7" });
    prompt += r.usage!.prompt_tokens;
    completion += r.usage!.completion_tokens;
  }
  // One cancelled mid-stream: its row still counts what it used.
  const controller = new AbortController();
  const res = await fetch(`${server.url}/v1/completions`, {
    method: "POST", signal: controller.signal, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", prompt: "cancel me", max_tokens: 1500, stream: true }),
  });
  const reader = res.body!.getReader();
  let seen = "";
  while (!/"text":"[^"]/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  // One refused: a model the key may use, which does not exist.
  assert.equal((await call("POST", "/v1/completions", key, { model: "nothing", prompt: "x" })).status, 404);
  type Row = { group: string; requests: number; prompt_tokens: number; completion_tokens: number; errors: number; cancelled: number };
  let row: Row | undefined;
  await waitUntil(async () => {
    const usage = await call("GET", "/v1/usage?group_by=key", key);
    row = (usage.json.data as Row[]).find((r) => r.group === "counted");
    return row?.requests === 5;
  }, "five rows are written", 10_000);
  assert.equal(row!.cancelled, 1);
  assert.equal(row!.errors, 1, "the 404");
  assert.ok(row!.prompt_tokens > prompt && row!.completion_tokens > completion, "the cancelled request's tokens count too");
  const own = await call("GET", "/v1/usage?group_by=key&key=alice", key);
  assert.deepEqual((own.json.data as Row[]).map((r) => r.group), ["counted"], "a key sees only its own usage");
  const all = await call("GET", "/v1/usage?group_by=model", ADMIN);
  assert.ok((all.json.data as Row[]).some((r) => r.group === "tiny"));
});

test("an identical greedy request is answered from the cache, streamed or not; a sampled one is not cached", async () => {
  const key = await createKey({ name: "cached" });
  const body = { model: "tiny", messages: [{ role: "user", content: "cache me" }], max_tokens: 6, temperature: 0 };
  const first = await call("POST", "/v1/chat/completions", key, body);
  assert.equal(first.headers.get("x-hearth-cache"), "miss");
  const second = await call("POST", "/v1/chat/completions", key, { ...body, messages: [{ content: "cache me", role: "user" }] });
  assert.equal(second.headers.get("x-hearth-cache"), "hit");
  assert.deepEqual(second.json.choices, first.json.choices);
  assert.deepEqual(second.json.usage, first.json.usage);
  const stream = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  assert.equal(stream.headers.get("x-hearth-cache"), "hit");
  assert.match(stream.headers.get("content-type") ?? "", /text\/event-stream/);
  const sse = await stream.text();
  const text = sse.split("\n\n").filter((l) => l.startsWith("data: {")).map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "").join("");
  assert.equal(text, (first.json.choices as { message: { content: string } }[])[0]!.message.content);
  assert.match(sse, /data: \[DONE\]\n\n$/);
  const sampled = { ...body, temperature: 0.9 };
  await call("POST", "/v1/chat/completions", key, sampled);
  assert.equal((await call("POST", "/v1/chat/completions", key, sampled)).headers.get("x-hearth-cache"), null, "not cacheable");
  const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  assert.match(metrics, /hearth_response_cache_requests_total\{result="hit"\} 2/);
});

test("hearth keys create, list and revoke, and hearth usage, through the admin API", async () => {
  const run = (...args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ["bin/hearth.js", ...args], { env: { ...process.env, HEARTH_ADMIN_KEY: ADMIN }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => { out += d; });
    child.stderr.on("data", (d: Buffer) => { err += d; });
    child.once("exit", (code) => resolve({ code, out, err }));
  });
  const created = await run("keys", "create", "--name", "from-cli", "--models", "tiny,other", "--rpm", "50", "--url", server.url);
  assert.equal(created.code, 0, created.err);
  const key = created.out.trim();
  assert.match(key, /^hth-/);
  assert.match(created.err, /shown only this once/);
  assert.equal((await as(key).completions.create({ model: "other", prompt: "hi", max_tokens: 2 })).usage?.completion_tokens, 2);
  const listed = await run("keys", "list", "--url", server.url);
  assert.match(listed.out, /^from-cli\s+hth-\S{4}\s+tiny,other\s+50\s+-\s+-/m);
  assert.ok(!listed.out.includes(key));
  await waitUntil(async () => /^from-cli\s+1\s/m.test((await run("usage", "--group-by", "key", "--url", server.url)).out), "the usage report lists the key's request");
  const revoked = await run("keys", "revoke", "from-cli", "--url", server.url);
  assert.equal(revoked.code, 0, revoked.err);
  assert.equal((await call("POST", "/v1/completions", key, { model: "tiny", prompt: "x" })).status, 401);
  const noAdmin = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ["bin/hearth.js", "keys", "list", "--url", server.url], { env: { ...process.env, HEARTH_ADMIN_KEY: "" }, stdio: "ignore" });
    child.once("exit", resolve);
  });
  assert.equal(noAdmin, 1, "without the admin key the command fails");
});

test("a graceful shutdown writes every finished request's usage row", async () => {
  const data = await mkdtemp(join(tmpdir(), "hearth-flush-"));
  const s = await startServer({ config: { data_dir: data } });
  for (let i = 0; i < 7; i++) await s.client.completions.create({ model: "tiny", prompt: `r${i}`, max_tokens: 2 });
  await s.close(); // no wait for the periodic write: close flushes
  const store = await openStore({ dataDir: data });
  try {
    const { rows } = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_log");
    assert.equal(rows[0]!.n, 7);
  } finally {
    await store.close();
    await rm(data, { recursive: true, force: true });
  }
});

test("embeddings count against the key's limits and have usage rows", async () => {
  const key = await createKey({ name: "embedder", rpm: 2 });
  let tokens = 0;
  for (const input of ["one", ["two", "three"]]) tokens += (await as(key).embeddings.create({ model: "tiny", input })).usage.prompt_tokens;
  const third = await call("POST", "/v1/embeddings", key, { model: "tiny", input: "four" });
  assert.equal(third.status, 429);
  assert.equal(third.json.error?.code, "rate_limit_exceeded");
  type Row = { group: string; requests: number; prompt_tokens: number; errors: number };
  let row: Row | undefined;
  await waitUntil(async () => {
    row = ((await call("GET", "/v1/usage?group_by=key", key)).json.data as Row[]).find((r) => r.group === "embedder");
    return row?.requests === 3;
  }, "three rows", 10_000);
  assert.deepEqual([row!.prompt_tokens, row!.errors], [tokens, 1]);
});
