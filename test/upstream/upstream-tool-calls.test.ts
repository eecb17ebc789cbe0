import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, test } from "node:test";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { startServer, type TestServer } from "../helpers/server.ts";
import { standInUpstream } from "./standIn.ts";

/**
 * Tool calls through an upstream, against a stand-in OpenAI-compatible server with fixed answers: its
 * own calls (tool_choice auto) stream on as argument deltas, and a forced call's constrained content
 * is read into calls by the gateway, as a runner's output is. No model runs here.
 */
const CALLS = [
  { name: "get_weather", arguments: '{"city": "oslo", "days": [1, 2]}' },
  { name: "book_table", arguments: '{"size": 2}' },
];
/** The pieces an answer is sent in: small, so that names, keys and values are split. */
const PIECE = 5;
const pieces = (text: string) => Array.from({ length: Math.ceil(text.length / PIECE) }, (_, i) => text.slice(i * PIECE, (i + 1) * PIECE));

let upstream: Server;
let gateway: TestServer;
/** The bodies the stand-in received. */
let received: Record<string, unknown>[];

before(async () => {
  const standIn = await standInUpstream((body, send) => {
    const delta = (d: object, finish: string | null = null) => send({ choices: [{ index: 0, delta: d, finish_reason: finish }] });
    if (body.response_format) {
      // A forced call: the upstream writes the constrained JSON as content, as Hearth asks it to.
      for (const p of pieces(JSON.stringify(CALLS.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) as unknown }))))) delta({ content: p });
      delta({}, "stop");
    } else {
      CALLS.forEach((c, index) => {
        delta({ tool_calls: [{ index, id: `upstream_${index}`, type: "function", function: { name: c.name, arguments: "" } }] });
        for (const p of pieces(c.arguments)) delta({ tool_calls: [{ index, function: { arguments: p } }] });
      });
      delta({}, "tool_calls");
    }
  });
  ({ server: upstream, received } = standIn);
  gateway = await startServer({ modelPath: null, config: { cache: { enabled: true }, models: [{ id: "stand-in", upstreams: [{ url: standIn.url }] }] } });
});
after(async () => {
  await gateway.close();
  upstream.close();
});

const tools = CALLS.map((c) => ({ type: "function" as const, function: { name: c.name, parameters: { type: "object", properties: {} } } }));
const ask = { model: "stand-in", messages: [{ role: "user" as const, content: "Weather, then a table." }], tools };

/** A stream's tool_calls deltas per call index, and its finish reasons. */
async function streamed(chunks: AsyncIterable<ChatCompletionChunk>) {
  const calls: { id: string; name: string; deltas: string[] }[] = [];
  const finishes: string[] = [];
  for await (const chunk of chunks) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    for (const tc of choice.delta.tool_calls ?? []) {
      if (tc.id) {
        assert.equal(tc.index, calls.length, "calls start in order");
        assert.equal(tc.function?.arguments, "", "a call's first delta has its name and no arguments yet");
        calls.push({ id: tc.id, name: tc.function!.name!, deltas: [] });
      } else calls[tc.index]!.deltas.push(tc.function!.arguments!);
    }
    if (choice.finish_reason) finishes.push(choice.finish_reason);
  }
  return { calls, finishes };
}

const expected = CALLS.map((c) => ({ name: c.name, arguments: c.arguments }));
const callsOf = (message: { tool_calls?: { type: string; function?: { name: string; arguments: string } }[] }) =>
  (message.tool_calls ?? []).map((c) => ({ name: c.function!.name, arguments: c.function!.arguments }));

test("an upstream's own tool calls stream on per index as argument deltas, with ids of Hearth's, and the SDK assembles them", async () => {
  const { calls, finishes } = await streamed(await gateway.client.chat.completions.create({ ...ask, stream: true }));
  assert.deepEqual(finishes, ["tool_calls"]);
  assert.deepEqual(calls.map((c) => ({ name: c.name, arguments: c.deltas.join("") })), expected);
  for (const c of calls) {
    assert.match(c.id, /^call_/, "the gateway's own id, not the upstream's");
    assert.ok(c.deltas.length > 1, `arguments came in deltas: ${JSON.stringify(c.deltas)}`);
  }
  assert.equal(received.at(-1)!.tool_choice, "auto");

  const final = await gateway.client.chat.completions.stream(ask).finalChatCompletion();
  assert.deepEqual(callsOf(final.choices[0]!.message), expected);
  assert.equal(final.choices[0]!.finish_reason, "tool_calls");

  const whole = await gateway.client.chat.completions.create(ask);
  assert.deepEqual(callsOf(whole.choices[0]!.message), expected);
  assert.equal(whole.choices[0]!.message.content, null);
  assert.equal(whole.choices[0]!.finish_reason, "tool_calls");
});

test("forced parallel calls are read from the upstream's constrained content and streamed per index", async () => {
  const forced = { ...ask, tool_choice: "required" as const };
  const { calls, finishes } = await streamed(await gateway.client.chat.completions.create({ ...forced, stream: true }));
  const sent = received.at(-1)!;
  assert.ok(sent.response_format, "the call's shape went upstream as a constraint");
  assert.equal(sent.tools, undefined);
  assert.deepEqual(finishes, ["tool_calls"]);
  assert.deepEqual(calls.map((c) => ({ name: c.name, arguments: c.deltas.join("") })), [
    { name: "get_weather", arguments: '{"city":"oslo","days":[1,2]}' },
    { name: "book_table", arguments: '{"size":2}' },
  ]);
  const final = await gateway.client.chat.completions.stream(forced).finalChatCompletion();
  assert.deepEqual(callsOf(final.choices[0]!.message), calls.map((c) => ({ name: c.name, arguments: c.deltas.join("") })));
  assert.equal(final.choices[0]!.message.content, null);
});

test("a cached answer with tool calls is replayed with the same calls under new ids", async () => {
  const body = { ...ask, tool_choice: "required" as const, temperature: 0 };
  const first = await gateway.client.chat.completions.create(body).withResponse();
  const again = await gateway.client.chat.completions.create(body).withResponse();
  assert.equal(again.response.headers.get("x-hearth-cache"), "hit");
  assert.deepEqual(callsOf(again.data.choices[0]!.message), callsOf(first.data.choices[0]!.message));
  assert.equal(again.data.choices[0]!.finish_reason, "tool_calls");
  const ids = [...first.data.choices[0]!.message.tool_calls!, ...again.data.choices[0]!.message.tool_calls!].map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, "every answer's calls have ids of their own");
  const { calls } = await streamed(await gateway.client.chat.completions.create({ ...body, stream: true }));
  assert.deepEqual(calls.map((c) => ({ name: c.name, arguments: c.deltas.join("") })), callsOf(first.data.choices[0]!.message));
});
