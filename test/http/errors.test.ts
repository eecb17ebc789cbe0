import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { post, startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let chat: string;
let completions: string;
before(async () => {
  server = await startServer({ fake: true, config: { body_limit_bytes: 64 * 1024, inference: { context_length: 256 } } });
  chat = `${server.url}/v1/chat/completions`;
  completions = `${server.url}/v1/completions`;
});
after(() => server.close());

const ok = { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 };

/** Every error case is followed by a good request: one bad request never stops the server. */
async function expectError(body: unknown, status: number, expected: { type?: string; code?: string; param?: string | null }, url = chat) {
  const res = await post(url, body);
  assert.equal(res.status, status, `status for ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(res.json)}`);
  const error = res.json.error!;
  assert.equal(typeof error.message, "string");
  assert.ok(error.message.length > 0);
  assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"]);
  for (const [k, v] of Object.entries(expected)) assert.equal(error[k as keyof typeof error], v, `${k} for ${JSON.stringify(body).slice(0, 80)}`);
  const after = await post(chat, ok);
  assert.equal(after.status, 200, "the server keeps serving");
}

test("malformed JSON is a 400 invalid_request_error", async () => {
  await expectError('{"model":', 400, { type: "invalid_request_error", code: "invalid_json", param: null });
  await expectError("", 400, { type: "invalid_request_error", code: "invalid_json" });
});

test("a body that is not a JSON object is a 400", async () => {
  for (const body of ["[]", '"x"', "null", "1"]) await expectError(body, 400, { type: "invalid_request_error" });
});

test("a missing or wrongly typed field is a 400 naming the field in param", async () => {
  await expectError({ messages: ok.messages }, 400, { type: "invalid_request_error", param: "model" });
  await expectError({ model: "tiny" }, 400, { param: "messages" });
  await expectError({ model: "tiny", messages: "hi" }, 400, { param: "messages" });
  await expectError({ model: "tiny", messages: [{ role: "user", content: 5 }] }, 400, { param: "messages.[0].content" });
  await expectError({ model: "tiny", messages: [{ role: "user" }, { content: "x" }] }, 400, { param: "messages.[1].role" });
  await expectError({ ...ok, stream: "yes" }, 400, { param: "stream" });
  await expectError({ ...ok, stop: ["a", "b", "c", "d", "e"] }, 400, { param: "stop" });
  await expectError({ ...ok, n: 9 }, 400, { param: "n" }); // over inference.max_n (8)
  await expectError({ ...ok, logprobs: true, top_logprobs: 21 }, 400, { param: "top_logprobs" });
  await expectError({ ...ok, logit_bias: { "5": 101 } }, 400, { param: "logit_bias.[5]" });
});

test("empty messages and an unknown role are 400s", async () => {
  await expectError({ model: "tiny", messages: [] }, 400, { type: "invalid_request_error", param: "messages" });
  await expectError({ model: "tiny", messages: [{ role: "wizard", content: "hi" }] }, 400, { param: "messages.[0].role" });
});

test("max_tokens below 1 or not an integer, and temperature outside 0..2, are 400s", async () => {
  for (const max_tokens of [0, -1, 1.5, "10", 2 ** 63]) await expectError({ ...ok, max_tokens }, 400, { param: "max_tokens" });
  for (const temperature of [-0.1, 2.5, "hot"]) await expectError({ ...ok, temperature }, 400, { param: "temperature" });
  await expectError({ model: "tiny", prompt: "x", max_tokens: 0 }, 400, { param: "max_tokens" }, completions);
});

test("an unknown model is a 404 model_not_found, streamed or not", async () => {
  await expectError({ ...ok, model: "gpt-9" }, 404, { code: "model_not_found", param: "model" });
  await expectError({ ...ok, model: "gpt-9", stream: true }, 404, { code: "model_not_found" });
  await expectError({ model: "gpt-9", prompt: "x" }, 404, { code: "model_not_found" }, completions);
});

test("a body over the configured limit is a 413", async () => {
  const huge = { ...ok, messages: [{ role: "user", content: "x".repeat(200 * 1024) }] };
  await expectError(huge, 413, { code: "request_too_large", type: "invalid_request_error" });
});

test("a prompt longer than the context is a 400 context_length_exceeded, again and again", async () => {
  const long = { model: "tiny", messages: [{ role: "user", content: "y".repeat(400) }] };
  for (let i = 0; i < 5; i++) await expectError(long, 400, { code: "context_length_exceeded", type: "invalid_request_error" });
  // Prompt and max_tokens together must fit too: no silent truncation.
  await expectError({ ...ok, max_tokens: 250 }, 400, { code: "context_length_exceeded" });
  await expectError({ model: "tiny", prompt: "z".repeat(300) }, 400, { code: "context_length_exceeded" }, completions);
});

test("fields OpenAI accepts that Hearth does not use are accepted and ignored", async () => {
  const res = await post(chat, { ...ok, user: "u-1", metadata: { a: "b" }, store: false, logit_bias: {}, parallel_tool_calls: true, service_tier: "auto", top_k: 5, min_p: 0.1, presence_penalty: 0.5, frequency_penalty: 0.5, seed: 2 ** 40, response_format: { type: "text" } });
  assert.equal(res.status, 200);
});

test("features not supported yet are refused clearly instead of ignored", async () => {
  // Tools, JSON output, logprobs and n are supported now (test/model/structured-output.test.ts, sampling.test.ts); these are not.
  await expectError({ ...ok, response_format: { type: "xml" } }, 400, { param: "response_format.type" });
  await expectError({ ...ok, response_format: { type: "json_schema", json_schema: { name: "s", schema: { type: "string", pattern: "a+" } } } }, 400, { param: "response_format.json_schema.schema.pattern", code: "unsupported_parameter" });
  await expectError({ model: "tiny", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "file:///etc/passwd" } }] }] }, 400, { param: "messages.[0].content.[0].type" });
  await expectError({ model: "tiny", prompt: [1, 2, 3, 10_000_000] }, 400, { param: "prompt" }, completions);
});

test("a schema that requires more repetitions than a grammar can spell out is a 400 naming the keyword", async () => {
  const schema = (inner: object) => ({ ...ok, response_format: { type: "json_schema", json_schema: { name: "s", schema: { type: "object", properties: { a: inner }, required: ["a"] } } } });
  const param = "response_format.json_schema.schema.properties.a";
  await expectError(schema({ type: "array", items: { type: "integer" }, minItems: 10_000 }), 400, { param: `${param}.minItems`, code: "invalid_request" });
  await expectError(schema({ type: "string", minLength: 2001 }), 400, { param: `${param}.minLength`, code: "invalid_request" });
});

test("unknown routes and methods get OpenAI-shaped 404s", async () => {
  const res = await fetch(`${server.url}/v1/nothing-here`);
  assert.equal(res.status, 404);
  const body = (await res.json()) as { error: { type: string } };
  assert.equal(body.error.type, "not_found_error");
});

test("the official SDK sees typed errors with status and code", async () => {
  await assert.rejects(
    server.client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "hi" }] }),
    (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found",
  );
  await assert.rejects(
    server.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "q".repeat(1000) }], stream: true }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === "context_length_exceeded",
  );
  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200);
});
