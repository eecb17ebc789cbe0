import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import { startServer, type TestServer } from "../helpers/server.ts";

/** With auth required: conversations per key, the aliases and the WebSocket guarded like /v1. */
const ADMIN = "admin-key-for-web-api-tests-0123";
let server: TestServer;
let alice: string;
let bob: string;
before(async () => {
  server = await startServer({ fake: true, config: { auth: "required", admin_key: ADMIN } });
  alice = await createKey("alice");
  bob = await createKey("bob");
});
after(() => server.close());

async function call(method: string, path: string, key: string | null, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method, headers: { ...(key !== null ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() as Record<string, unknown> & { error?: { code: string; param: string | null } } };
}
async function createKey(name: string): Promise<string> {
  const res = await call("POST", "/v1/admin/keys", ADMIN, { name });
  assert.equal(res.status, 201);
  return res.json.key as string;
}
const ids = (list: { json: Record<string, unknown> }) => (list.json.data as { id: string }[]).map((c) => c.id);

test("a key sees only its own conversations; another key's are 404; the admin sees all", async () => {
  const mine = (await call("POST", "/v1/conversations", alice, { title: "alice's" })).json.id as string;
  const theirs = (await call("POST", "/v1/conversations", bob, { title: "bob's" })).json.id as string;
  assert.deepEqual(ids(await call("GET", "/v1/conversations", alice)), [mine]);
  assert.deepEqual(ids(await call("GET", "/v1/conversations", bob)), [theirs]);
  for (const [method, body] of [["GET", undefined], ["PATCH", { title: "taken" }], ["DELETE", undefined]] as const) {
    const res = await call(method, `/v1/conversations/${theirs}`, alice, body);
    assert.equal(res.status, 404, `${method} another key's conversation`);
    assert.equal(res.json.error?.code, "conversation_not_found");
  }
  const chat = await call("POST", "/v1/chat/completions", alice, { model: server.model, messages: [{ role: "user", content: "hi" }], max_tokens: 2, conversation: theirs });
  assert.equal(chat.status, 404);
  assert.equal(chat.json.error?.param, "conversation");
  assert.equal((await call("GET", `/v1/conversations/${theirs}`, bob)).json.title, "bob's", "bob's conversation is unchanged");
  assert.deepEqual(new Set(ids(await call("GET", "/v1/conversations", ADMIN))), new Set([mine, theirs]));
  assert.equal((await call("GET", "/v1/conversations", null)).status, 401);
});

test("the seeds' aliases need a key like the routes they stand for", async () => {
  assert.equal((await call("POST", "/chat/completions", null, { model: server.model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 })).status, 401);
  assert.equal((await call("GET", "/models", null)).status, 401);
  const chat = await call("POST", "/chat/completions", alice, { model: server.model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
  assert.equal(chat.status, 200);
  assert.equal(chat.json.object, "chat.completion");
  const models = await call("GET", "/models", alice);
  assert.equal(models.status, 200);
  assert.ok((models.json.data as { id: string }[]).some((m) => m.id === server.model));
});

/** Opens a WebSocket; resolves with it open, or with the HTTP status that refused the upgrade. */
function open(path: string, opts: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.url.replace(/^http/, "ws") + path, opts.protocols, { headers: opts.headers ?? {} });
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (req, res) => { resolve(res.statusCode ?? 0); req.destroy(); });
    ws.once("error", reject);
  });
}

test("a WebSocket needs a key: refused without one, served with it as the hearth.bearer.<key> subprotocol or a header", async () => {
  assert.equal(await open("/v1/chat/completions/ws"), 401);
  assert.equal(await open("/chat/stream"), 401);
  assert.equal(await open("/v1/chat/completions/ws", { protocols: ["hearth.bearer.hth-not-a-real-key"] }), 401);
  for (const opts of [{ protocols: [`hearth.bearer.${alice}`] }, { headers: { authorization: `Bearer ${alice}` } }]) {
    const ws = await open("/v1/chat/completions/ws", opts);
    assert.ok(ws instanceof WebSocket);
    if (opts.protocols) assert.equal(ws.protocol, `hearth.bearer.${alice}`, "the offered protocol is selected");
    const done = new Promise<string[]>((resolve) => {
      const got: string[] = [];
      ws.on("message", (m) => { got.push(m.toString()); if (m.toString() === "[DONE]") resolve(got); });
    });
    ws.send(JSON.stringify({ model: server.model, messages: [{ role: "user", content: "hi" }], max_tokens: 3 }));
    const got = await done;
    assert.ok(got.length > 2 && !got.some((m) => m.includes("\"error\"")));
    ws.close();
  }
  // Offered with a protocol that carries no key, that one is selected.
  const ws = await open("/v1/chat/completions/ws", { protocols: ["hearth.v1", `hearth.bearer.${alice}`] });
  assert.ok(ws instanceof WebSocket);
  assert.equal(ws.protocol, "hearth.v1");
  ws.close();
});

test("a key for other models is refused with 403 model_not_allowed on every route that serves a model, the WebSocket's messages included, each refusal counted once", async () => {
  const res = await call("POST", "/v1/admin/keys", ADMIN, { name: "carol", models: ["elsewhere"] });
  assert.equal(res.status, 201);
  const carol = res.json.key as string;
  const refusals = async () => {
    const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    return Number(/^hearth_request_errors_total\{code="model_not_allowed"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  const before = await refusals();
  const messages = [{ role: "user", content: "hi" }];
  const asks: [string, unknown][] = [
    ["/v1/chat/completions", { model: server.model, messages, max_tokens: 2 }],
    ["/v1/chat/completions", { model: server.model, messages, max_tokens: 2, stream: true }],
    ["/chat/completions", { model: server.model, messages, max_tokens: 2 }],
    ["/v1/completions", { model: server.model, prompt: "hi", max_tokens: 2 }],
    ["/v1/embeddings", { model: server.model, input: "hi" }],
    ["/v1/rerank", { model: server.model, query: "hi", documents: ["a"] }],
    ["/rerank", { model: server.model, query: "hi", documents: ["a"] }],
    ["/tokenize", { model: server.model, content: "hi" }],
    ["/tokenize", { content: "hi" }], // the only model, chosen for the caller: still checked
    ["/detokenize", { model: server.model, tokens: [104] }],
  ];
  for (const [path, body] of asks) {
    const refused = await call("POST", path, carol, body);
    assert.equal(refused.status, 403, `${path} ${JSON.stringify(body)}`);
    assert.equal(refused.json.error?.code, "model_not_allowed");
  }
  const ws = await open("/v1/chat/completions/ws", { headers: { authorization: `Bearer ${carol}` } });
  assert.ok(ws instanceof WebSocket);
  const answer = new Promise<string>((resolve) => ws.once("message", (data) => resolve(data.toString())));
  ws.send(JSON.stringify({ model: server.model, messages, max_tokens: 2 }));
  assert.equal((JSON.parse(await answer) as { error: { code: string } }).error.code, "model_not_allowed");
  ws.close();
  assert.equal(await refusals() - before, asks.length + 1);
  // A key allowed every model is served as before.
  assert.equal((await call("POST", "/v1/chat/completions", alice, { model: server.model, messages, max_tokens: 2 })).status, 200);
});
