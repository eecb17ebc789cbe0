import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Ajv } from "ajv";
import OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { testModel } from "../helpers/models.ts";
import { openaiValidator } from "../helpers/openaiSchemas.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";

/**
 * OpenAI's Responses API through the official `openai` SDK, unchanged, on real llama.cpp: every
 * response and stream event checked against OpenAI's published OpenAPI schemas.
 */
const ADMIN = "admin-key-for-responses-tests-0123";
const isResponse = openaiValidator("Response");
const isEvent = openaiValidator("ResponseStreamEvent");
const isError = openaiValidator("ErrorResponse");
let server: TestServer;
let alice: OpenAI;
let bob: OpenAI;
let carol: OpenAI;
before(async () => {
  // Tools described in a byte vocabulary's prompt take about a thousand tokens.
  server = await startServer({ config: { auth: "required", admin_key: ADMIN, inference: { context_length: 4096 } } });
  const key = async (name: string) => {
    const res = await fetch(`${server.url}/v1/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ name }) });
    return new OpenAI({ baseURL: `${server.url}/v1`, apiKey: (await res.json() as { key: string }).key, maxRetries: 0 });
  };
  alice = await key("alice");
  bob = await key("bob");
  carol = await key("carol");
});
after(() => server.close());

/** A response's JSON as the server sent it: the SDK adds `output_text`, and its stream helper `output_parsed` and `parsed`. */
const SDK_FIELDS = new Set(["output_text", "output_parsed", "parsed"]);
const wire = (r: object) => JSON.parse(JSON.stringify(r, (k, v: unknown) => (SDK_FIELDS.has(k) ? undefined : v))) as Record<string, unknown>;

async function streamed(params: OpenAI.Responses.ResponseCreateParamsStreaming) {
  const stream = alice.responses.stream(params);
  const events: ResponseStreamEvent[] = [];
  for await (const ev of stream) {
    isEvent(ev);
    events.push(ev);
  }
  return { events, final: await stream.finalResponse() };
}

test("create: text, usage and settings, as OpenAI's schema says; streamed text equals it for the same seed", async () => {
  // `seed` is Hearth's (as on chat completions), not in the SDK's types.
  const params = { model: "tiny", input: "Tell me a story", instructions: "Be brief.", max_output_tokens: 12, temperature: 0.9, seed: 11, metadata: { run: "a" } } as OpenAI.Responses.ResponseCreateParamsNonStreaming;
  const r = await alice.responses.create(params);
  isResponse(wire(r));
  assert.equal(r.status, "incomplete");
  assert.deepEqual(r.incomplete_details, { reason: "max_output_tokens" });
  assert.equal(r.usage?.output_tokens, 12);
  assert.ok(r.output_text.length > 0);
  assert.deepEqual([r.instructions, r.max_output_tokens, r.metadata, wire(r).store], ["Be brief.", 12, { run: "a" }, true]);
  const { events, final } = await streamed({ ...params, stream: true });
  assert.equal(final.output_text, r.output_text);
  const types = events.map((e) => e.type);
  assert.deepEqual(types.slice(0, 4), ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
  assert.equal(types.at(-1), "response.incomplete");
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), "sequence numbers count from 0");
  const deltas = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : []));
  assert.equal(deltas.join(""), r.output_text);
  // What was streamed is what is stored, ids included.
  assert.deepEqual(wire(await alice.responses.retrieve(final.id)), wire(final));
});

test("a function call round trip: the call, its output through previous_response_id, and the same prompt as sending it all again", async () => {
  const tools: OpenAI.Responses.FunctionTool[] = [{ type: "function", name: "get_weather", description: "Weather in a city", strict: true, parameters: { type: "object", properties: { city: { type: "string", maxLength: 12 } }, required: ["city"], additionalProperties: false } }];
  const forced = { model: "tiny", input: "Weather in Paris?", tools, tool_choice: { type: "function", name: "get_weather" }, max_output_tokens: 60, seed: 3 } as OpenAI.Responses.ResponseCreateParamsNonStreaming;
  const first = await alice.responses.create(forced);
  isResponse(wire(first));
  const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call");
  assert.ok(call, JSON.stringify(first.output));
  assert.equal(call.name, "get_weather");
  assert.equal(typeof (JSON.parse(call.arguments) as { city: unknown }).city, "string");
  const output = { type: "function_call_output" as const, call_id: call.call_id, output: "sunny, 21 C" };
  const next = await alice.responses.create({ model: "tiny", previous_response_id: first.id, input: [output], tools, max_output_tokens: 8, temperature: 0 });
  isResponse(wire(next));
  assert.equal(next.previous_response_id, first.id);
  // The same conversation sent whole: the same prompt, so the same greedy answer.
  const whole = await alice.responses.create({
    model: "tiny", store: false, tools, max_output_tokens: 8, temperature: 0,
    input: [{ role: "user", content: "Weather in Paris?" }, { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments }, output],
  });
  assert.equal(whole.usage?.input_tokens, next.usage?.input_tokens);
  assert.equal(whole.output_text, next.output_text);
  assert.ok(next.usage!.input_tokens > first.usage!.input_tokens, "the call and its output are in the prompt");
  // input_tokens counts the prompt a request would evaluate: the same as the generations' usage.
  const counted = await alice.responses.inputTokens.count({ model: "tiny", previous_response_id: first.id, input: [output], tools });
  assert.deepEqual(counted, { object: "response.input_tokens", input_tokens: next.usage!.input_tokens });
  const forcedCount = await alice.responses.inputTokens.count({ model: "tiny", input: "Weather in Paris?", tools, tool_choice: { type: "function", name: "get_weather" } });
  assert.equal(forcedCount.input_tokens, first.usage!.input_tokens);
  // Streamed, the call comes as its own item with its arguments in deltas.
  const { events, final } = await streamed({ ...forced, stream: true });
  const args = events.flatMap((e) => (e.type === "response.function_call_arguments.delta" ? [e.delta] : [])).join("");
  assert.equal(args, call.arguments);
  assert.ok(events.some((e) => e.type === "response.function_call_arguments.done" && e.arguments === call.arguments));
  assert.equal(final.output.filter((o) => o.type === "function_call").length, 1);
});

test("text.format json_schema: the answer parses and follows the schema, streamed or not", async () => {
  const schema = { type: "object", properties: { name: { type: "string", maxLength: 10 }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false };
  const check = new Ajv().compile(schema);
  const params = { model: "tiny", input: "A person", text: { format: { type: "json_schema", name: "person", schema, strict: true } }, max_output_tokens: 80, seed: 5 } as OpenAI.Responses.ResponseCreateParamsNonStreaming;
  const r = await alice.responses.create(params);
  assert.equal(r.status, "completed");
  assert.ok(check(JSON.parse(r.output_text)), r.output_text);
  const { final } = await streamed({ ...params, stream: true });
  assert.equal(final.output_text, r.output_text);
});

test("stored responses: GET, DELETE, per key; store false keeps nothing", async () => {
  const r = await alice.responses.create({ model: "tiny", input: "keep me", max_output_tokens: 2 });
  await assert.rejects(bob.responses.retrieve(r.id), (err) => err instanceof OpenAI.NotFoundError, "another key's response is not found");
  await assert.rejects(bob.responses.create({ model: "tiny", previous_response_id: r.id, input: "go on", max_output_tokens: 2 }), (err: unknown) => err instanceof OpenAI.NotFoundError && (err.error as { param?: string }).param === "previous_response_id");
  await alice.responses.delete(r.id);
  await assert.rejects(alice.responses.retrieve(r.id), OpenAI.NotFoundError);
  const unkept = await alice.responses.create({ model: "tiny", input: "forget me", max_output_tokens: 2, store: false });
  assert.equal(wire(unkept).store, false);
  await assert.rejects(alice.responses.retrieve(unkept.id), OpenAI.NotFoundError);
});

test("bad input gets OpenAI's error shape naming the field", async () => {
  const cases: [object, number, string | null][] = [
    [{ model: "tiny", input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x" }] }] }, 400, "input.[0].content.[0].type"],
    [{ model: "tiny", input: "x", background: true }, 400, "background"],
    [{ model: "tiny", input: "x", tools: [{ type: "web_search" }] }, 400, "tools.[0].type"],
    [{ model: "tiny", input: [{ type: "function_call_output", call_id: "nope", output: "x" }] }, 400, "input.[0].call_id"],
    [{ model: "tiny", input: "x", max_output_tokens: 0 }, 400, "max_output_tokens"],
    [{ model: "nothing", input: "x" }, 404, "model"],
  ];
  for (const [body, status, param] of cases) {
    const res = await fetch(`${server.url}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${alice.apiKey}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = await res.json() as { error: { param: string | null } };
    assert.equal(res.status, status, JSON.stringify(body));
    isError(json);
    assert.equal(json.error.param, param);
  }
  const anonymous = await fetch(`${server.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", input: "x" }) });
  assert.equal(anonymous.status, 401);
});

test("the usage log records each response under its route and key", async () => {
  await carol.responses.create({ model: "tiny", input: "count me", max_output_tokens: 2, store: false });
  await carol.responses.create({ model: "tiny", input: "and me", max_output_tokens: 3, stream: true }).then(async (s) => { for await (const _ of s); });
  type Row = { group: string; requests: number; completion_tokens: number };
  let rows: Row[] = [];
  await waitUntil(async () => {
    const res = await fetch(`${server.url}/v1/usage?group_by=route&key=carol`, { headers: { authorization: `Bearer ${ADMIN}` } });
    rows = (await res.json() as { data: Row[] }).data;
    return rows[0]?.requests === 2;
  }, "both rows are written", 10_000);
  assert.deepEqual(rows.map((r) => [r.group, r.requests, r.completion_tokens]), [["/v1/responses", 2, 5]]);
});

test("a key's rate limit applies to /v1/responses: a 429 in OpenAI's shape", async () => {
  const res = await fetch(`${server.url}/v1/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ name: "dave", rpm: 1 }) });
  const dave = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: (await res.json() as { key: string }).key, maxRetries: 0 });
  await dave.responses.create({ model: "tiny", input: "one", max_output_tokens: 2, store: false });
  await assert.rejects(dave.responses.create({ model: "tiny", input: "two", max_output_tokens: 2, store: false }), (err: unknown) => {
    assert.ok(err instanceof OpenAI.RateLimitError);
    isError({ error: err.error });
    return err.headers?.get("x-ratelimit-limit-requests") === "1";
  });
});

test("a reasoning model's thoughts come as a reasoning item, streamed as reasoning_text events", async () => {
  const qwen = await startServer({ modelPath: await testModel("qwen3") });
  try {
    const client = new OpenAI({ baseURL: `${qwen.url}/v1`, apiKey: "unused", maxRetries: 0 });
    // Random weights never open a thinking block: a reasoning item last in the input starts the
    // answer inside one (as test/model/reasoning.test.ts does with chat's prefill).
    const input: OpenAI.Responses.ResponseInputItem[] = [{ role: "user", content: "What is 2 + 2?" }, { type: "reasoning", id: "rs_1", summary: [], content: [{ type: "reasoning_text", text: "Let me think." }] }];
    const params = { model: "tiny", input, max_output_tokens: 8, seed: 2 } as OpenAI.Responses.ResponseCreateParamsNonStreaming;
    const r = await client.responses.create(params);
    isResponse(wire(r));
    const reasoning = r.output.find((o): o is OpenAI.Responses.ResponseReasoningItem => o.type === "reasoning");
    assert.ok(reasoning?.content?.[0]?.text, JSON.stringify(r.output));
    assert.doesNotMatch(reasoning.content[0]!.text, /<\/?think>/);
    assert.equal(r.output_text, "", "cut inside the block: no answer yet");
    assert.equal(r.usage?.output_tokens_details.reasoning_tokens, 8);
    const stream = client.responses.stream({ ...params, stream: true } as OpenAI.Responses.ResponseCreateParamsStreaming);
    let thought = "";
    for await (const ev of stream) {
      isEvent(ev);
      if (ev.type === "response.reasoning_text.delta") thought += ev.delta;
    }
    assert.equal(thought, reasoning.content[0]!.text);
    assert.equal((await stream.finalResponse()).output_text, r.output_text);
  } finally {
    await qwen.close();
  }
});

test("a generation that fails after the stream began ends with response.failed, in OpenAI's shape", async () => {
  const slow = await startServer({ config: { batching: { timeout_ms: 600 } } });
  try {
    const client = new OpenAI({ baseURL: `${slow.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const events: ResponseStreamEvent[] = [];
    const stream = await client.responses.create({ model: "tiny", input: "Go on and on", stream: true });
    for await (const ev of stream) {
      isEvent(ev);
      events.push(ev);
    }
    const last = events.at(-1)!;
    assert.equal(last.type, "response.failed");
    assert.ok(events.some((e) => e.type === "response.output_text.delta"), "text came before the failure");
    const failed = (last as OpenAI.Responses.ResponseFailedEvent).response;
    assert.equal(failed.status, "failed");
    assert.equal(failed.error?.code, "server_error");
    assert.match(failed.error!.message, /time/);
  } finally {
    await slow.close();
  }
});
