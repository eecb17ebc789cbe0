import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { openStore } from "../../src/store/openStore.ts";
import { SdkConformance } from "../helpers/anthropicTypes.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/**
 * The Messages API's HTTP edge on the fake model, through Anthropic's SDK unchanged: errors in
 * Anthropic's shape and the SDK's error classes (validation, unusable content, auth, permission,
 * rate limits, parse errors, body size), streamed events, count_tokens, the usage log's rows, and
 * every object checked against the SDK's types.
 */
const ADMIN = "admin-key-for-anthropic-tests-0123";
let server: TestServer;
let data: string;
let key: string;
const conformance = new SdkConformance();
before(async () => {
  data = await mkdtemp(join(tmpdir(), "hearth-anthropic-"));
  server = await startServer({ fake: true, config: { auth: "required", admin_key: ADMIN, data_dir: data, body_limit_bytes: 64 * 1024 } });
  key = await createKey({ name: "claude-client" });
});
after(async () => {
  await server.close();
  await rm(data, { recursive: true, force: true });
});

async function createKey(spec: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${server.url}/v1/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify(spec) });
  assert.equal(res.status, 201);
  return ((await res.json()) as { key: string }).key;
}

const client = (apiKey = key) => new Anthropic({ baseURL: server.url, apiKey, maxRetries: 0 });
const user = (content: unknown) => ({ role: "user", content }) as Anthropic.MessageParam;
const ok = { model: "tiny", max_tokens: 4, messages: [user("hi")] };

/** The SDK's error for a request, checked to be Anthropic's error body with this status and type. */
async function refused(body: unknown, status: number, type: string, cls: new (...args: never[]) => InstanceType<typeof Anthropic.APIError>, c = client()): Promise<string> {
  const err = await c.messages.create(body as Anthropic.MessageCreateParamsNonStreaming).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof cls, `${JSON.stringify(body).slice(0, 120)}: ${String(err)}`);
  assert.equal(err.status, status);
  const e = err.error as { type: string; error: { type: string; message: string }; request_id: string };
  assert.equal(e.type, "error");
  assert.equal(e.error.type, type);
  assert.equal(err.requestID, e.request_id, "the request-id header is the body's request_id");
  conformance.add("ErrorResponse", e, `${status} ${type}`);
  return e.error.message;
}

test("bad requests are 400 invalid_request_error in Anthropic's shape, naming the field", async () => {
  assert.match(await refused({ model: "tiny", messages: [user("hi")] }, 400, "invalid_request_error", Anthropic.BadRequestError), /max_tokens/);
  assert.match(await refused({ ...ok, messages: [{ role: "wizard", content: "hi" }] }, 400, "invalid_request_error", Anthropic.BadRequestError), /messages\.\[0\]\.role/);
  assert.match(await refused({ ...ok, messages: [] }, 400, "invalid_request_error", Anthropic.BadRequestError), /messages/);
  assert.match(await refused({ ...ok, temperature: 1.5 }, 400, "invalid_request_error", Anthropic.BadRequestError), /temperature/);
  assert.match(await refused({ ...ok, stop_sequences: ["a", "b", "c", "d", "e"] }, 400, "invalid_request_error", Anthropic.BadRequestError), /stop_sequences/);
  const image = user([{ type: "text", text: "what is this?" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }]);
  assert.match(await refused({ ...ok, messages: [image] }, 400, "invalid_request_error", Anthropic.BadRequestError), /messages\.\[0\]\.content\.\[1\]\.type: This model cannot read images/);
  const document = user([{ type: "document", source: { type: "text", media_type: "text/plain", data: "x" } }]);
  assert.match(await refused({ ...ok, messages: [document] }, 400, "invalid_request_error", Anthropic.BadRequestError), /cannot read documents/);
  const stray = user([{ type: "tool_result", tool_use_id: "toolu_nowhere", content: "42" }]);
  assert.match(await refused({ ...ok, messages: [stray] }, 400, "invalid_request_error", Anthropic.BadRequestError), /does not match a tool_use block/);
  const search = { ...ok, tools: [{ type: "web_search_20250305", name: "web_search" }] };
  assert.match(await refused(search, 400, "invalid_request_error", Anthropic.BadRequestError), /server tools, which Hearth does not run/);
  const forcedWithStop = { ...ok, stop_sequences: ["x"], tools: [{ name: "f", input_schema: { type: "object" } }], tool_choice: { type: "tool", name: "f" } };
  assert.match(await refused(forcedWithStop, 400, "invalid_request_error", Anthropic.BadRequestError), /stop_sequences/);
  assert.match(await refused({ ...ok, container: "container_1" }, 400, "invalid_request_error", Anthropic.BadRequestError), /container/);
  assert.match(await refused({ ...ok, thinking: { type: "enabled" } }, 400, "invalid_request_error", Anthropic.BadRequestError), /budget_tokens/);
});

test("an unknown model is 404 not_found_error, streamed or not; count_tokens too", async () => {
  await refused({ ...ok, model: "claude-nowhere" }, 404, "not_found_error", Anthropic.NotFoundError);
  const streamed = await client().messages.create({ ...ok, model: "claude-nowhere", stream: true }).then(() => null, (e: unknown) => e);
  assert.ok(streamed instanceof Anthropic.NotFoundError);
  const counted = await client().messages.countTokens({ model: "claude-nowhere", messages: [user("hi")] }).then(() => null, (e: unknown) => e);
  assert.ok(counted instanceof Anthropic.NotFoundError);
});

test("bodies the parser refuses are Anthropic errors too: 400 for bad JSON, 413 request_too_large", async () => {
  for (const [body, status, type] of [["{\"model\":", 400, "invalid_request_error"], [JSON.stringify({ ...ok, messages: [user("x".repeat(80 * 1024))] }), 413, "request_too_large"]] as const) {
    const res = await fetch(`${server.url}/v1/messages`, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body });
    assert.equal(res.status, status);
    const json = await res.json() as { type: string; error: { type: string } };
    assert.deepEqual([json.type, json.error.type], ["error", type]);
  }
});

test("without a valid key: 401 authentication_error; a key that may not use the model: 403 permission_error", async () => {
  await refused(ok, 401, "authentication_error", Anthropic.AuthenticationError, client("hth-not-a-real-key"));
  const none = await fetch(`${server.url}/v1/messages/count_tokens`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", messages: [user("hi")] }) });
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { error: { type: string } }).error.type, "authentication_error");
  const elsewhere = await createKey({ name: "other-models", models: ["not-tiny"] });
  await refused(ok, 403, "permission_error", Anthropic.PermissionDeniedError, client(elsewhere));
});

test("over its requests per minute a key gets 429 rate_limit_error with Retry-After", async () => {
  const limited = client(await createKey({ name: "limited", rpm: 1 }));
  await limited.messages.create(ok);
  const err = await limited.messages.create(ok).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof Anthropic.RateLimitError);
  assert.equal((err.error as { error: { type: string } }).error.type, "rate_limit_error");
  assert.ok(Number(err.headers.get("retry-after")) >= 1);
});

test("a Message, its stream and count_tokens agree, with the key from x-api-key", async () => {
  const body = { ...ok, max_tokens: 6, system: [{ type: "text" as const, text: "Be brief." }], stop_sequences: [" fake"], metadata: { user_id: "end-user-42" } };
  const whole = await client().messages.create(body);
  conformance.add("Message", whole, "fake: create");
  assert.equal(whole.stop_reason, "stop_sequence");
  assert.equal(whole.stop_sequence, " fake");
  assert.deepEqual(whole.content, [{ type: "text", text: "Hello from the", citations: null }]);
  const count = await client().messages.countTokens({ model: "tiny", system: body.system, messages: body.messages });
  conformance.add("MessageTokensCount", count, "fake: count_tokens");
  assert.equal(count.input_tokens, whole.usage.input_tokens + (whole.usage.cache_read_input_tokens ?? 0));

  const res = await fetch(`${server.url}/v1/messages`, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const events = (await res.text()).split("\n\n").filter(Boolean).map((frame) => {
    const [name, data] = frame.split("\n");
    const event = JSON.parse(data!.replace(/^data: /, "")) as { type: string };
    assert.equal(name, `event: ${event.type}`, "each event is named by its type");
    return event;
  });
  assert.deepEqual(events.map((e) => e.type), ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
  for (const e of events) if (e.type !== "ping") conformance.add("RawMessageStreamEvent", e, `fake: stream ${e.type}`);
  const delta = events.at(-2) as Anthropic.RawMessageDeltaEvent;
  assert.deepEqual([delta.delta.stop_reason, delta.delta.stop_sequence, delta.usage.output_tokens], ["stop_sequence", " fake", whole.usage.output_tokens]);
});

test("every generation on /v1/messages has a usage row with its route, user and message id; a refused one too", async () => {
  const c = client(await createKey({ name: "logged", rpm: 2 }));
  const m = await c.messages.create({ ...ok, metadata: { user_id: "end-user-7" } });
  await c.messages.create({ ...ok, stream: true, metadata: { user_id: "end-user-7" } }).then(async (s) => { for await (const _ of s); });
  await c.messages.create({ ...ok, metadata: { user_id: "end-user-7" } }).catch((e: unknown) => assert.ok(e instanceof Anthropic.RateLimitError));
  await server.close(); // flushes the usage log
  const store = await openStore({ dataDir: data });
  try {
    const { rows } = await store.query<{ request_id: string; route: string; status: number; user_id: string; finish_reason: string | null; completion_tokens: number }>(
      "SELECT request_id, route, status, user_id, finish_reason, completion_tokens FROM usage_log WHERE key_name = 'logged' ORDER BY ts",
    );
    assert.deepEqual(rows.map((r) => [r.route, r.status, r.user_id]), [["/v1/messages", 200, "end-user-7"], ["/v1/messages", 200, "end-user-7"], ["/v1/messages", 429, "end-user-7"]]);
    assert.equal(rows[0]!.request_id, m.id);
    assert.match(rows[1]!.request_id, /^msg_/);
    assert.equal(rows[0]!.completion_tokens, m.usage.output_tokens);
  } finally {
    await store.close();
  }
  server = await startServer({ fake: true }); // for after()
});

test("the OpenAPI document describes both routes, their Message, events and errors", async () => {
  const doc = await (await fetch(`${server.url}/openapi.json`)).json() as { paths: Record<string, { post: { responses: Record<string, { content: Record<string, unknown> }> } }> };
  const messages = doc.paths["/v1/messages"]!.post.responses;
  assert.ok(messages["200"]!.content["application/json"] && messages["200"]!.content["text/event-stream"]);
  assert.ok(messages["429"]!.content["application/json"]);
  assert.ok(doc.paths["/v1/messages/count_tokens"]!.post.responses["200"]);
});

test("every object received conforms to @anthropic-ai/sdk's types", async () => {
  assert.ok(conformance.size > 20);
  await conformance.check();
});
