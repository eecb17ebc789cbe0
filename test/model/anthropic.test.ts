import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { SdkConformance } from "../helpers/anthropicTypes.ts";
import { testModel } from "../helpers/models.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/**
 * Anthropic's Messages API on real llama.cpp (the tiny model, and the Qwen3 preset for thinking
 * and tool calls in a family's syntax), through the official SDK unchanged. Every Message and
 * stream event received is type-checked against the SDK's types at the end.
 * Anthropic has no seed: Hearth's `seed` (as llama-server's) makes sampled answers repeatable, and
 * `logit_bias` steers random weights; both are sent as the SDK sends any extra body field.
 */
let tiny: TestServer;
let qwen: TestServer;
const conformance = new SdkConformance();
before(async () => {
  tiny = await startServer({ config: { inference: { context_length: 4096 } } });
  qwen = await startServer({ modelPath: await testModel("qwen3"), config: { inference: { context_length: 2048 } } });
});
after(async () => {
  await tiny?.close();
  await qwen?.close();
});

const sdk = (s: TestServer) => new Anthropic({ baseURL: s.url, apiKey: "none", maxRetries: 0 });
type Body = Anthropic.MessageCreateParamsNonStreaming & Record<string, unknown>;
const ask = "Tell me about the sea.";

async function create(s: TestServer, body: Body, label: string): Promise<Anthropic.Message> {
  const m = await sdk(s).messages.create(body);
  conformance.add("Message", m, label);
  return m;
}

/** The streamed Message as the SDK assembles it, each event kept for the type check. */
async function streamed(s: TestServer, body: Body, label: string): Promise<Anthropic.Message> {
  const stream = sdk(s).messages.stream(body);
  const types: string[] = [];
  for await (const event of stream) {
    types.push(event.type);
    conformance.add("RawMessageStreamEvent", event, `${label}: ${event.type}`);
  }
  assert.equal(types[0], "message_start");
  assert.deepEqual(types.slice(-2), ["message_delta", "message_stop"]);
  const m = await stream.finalMessage();
  const { parsed_output: _, ...message } = m as Anthropic.Message & { parsed_output?: unknown };
  return message;
}

/** A Message apart from what differs between two answers: its id, its calls' ids, and the prompt tokens a cache reused. */
function comparable(m: Anthropic.Message) {
  const prompt = m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0);
  return {
    ...m, id: "", usage: { ...m.usage, input_tokens: prompt, cache_read_input_tokens: 0 },
    content: m.content.map((b) => (b.type === "tool_use" ? { ...b, id: "" } : b)),
  };
}

const text = (m: Anthropic.Message) => m.content.filter((b) => b.type === "text").map((b) => b.text).join("");

test("a text Message, and the same Message streamed: greedy, and sampled with a seed", async () => {
  for (const sampling of [{ temperature: 0 }, { temperature: 1, seed: 42 }]) {
    const body: Body = { model: "tiny", max_tokens: 12, messages: [{ role: "user", content: ask }], system: "You are terse.", ...sampling };
    const whole = await create(tiny, body, `tiny ${JSON.stringify(sampling)}`);
    assert.match(whole.id, /^msg_/);
    assert.deepEqual([whole.type, whole.role, whole.model, whole.stop_reason, whole.stop_sequence], ["message", "assistant", "tiny", "max_tokens", null]);
    assert.equal(whole.usage.output_tokens, 12);
    assert.equal(whole.content.length, 1);
    assert.ok(text(whole).length > 0);
    assert.deepEqual(comparable(await streamed(tiny, body, "tiny stream")), comparable(whole));
  }
});

test("a stop sequence ends the Message before it, with stop_reason stop_sequence and the one that matched", async () => {
  const body: Body = { model: "tiny", max_tokens: 24, temperature: 0, messages: [{ role: "user", content: ask }] };
  const free = text(await create(tiny, body, "tiny free"));
  const at = Math.floor(free.length / 2);
  const stop = free.slice(at, at + 3);
  const expected = free.slice(0, free.indexOf(stop));
  const stopped = { ...body, stop_sequences: ["\u0001never", stop] };
  for (const m of [await create(tiny, stopped, "tiny stopped"), await streamed(tiny, stopped, "tiny stopped stream")]) {
    assert.equal(m.stop_reason, "stop_sequence");
    assert.equal(m.stop_sequence, stop);
    assert.equal(text(m), expected);
  }
});

test("count_tokens is the prompt a generation evaluates: system, tools, a tool round trip, thinking on and off", async () => {
  const tools: Anthropic.Tool[] = [{ name: "get_weather", description: "The weather in a city.", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
  const history: Anthropic.MessageParam[] = [
    { role: "user", content: "Weather in Oslo?" },
    { role: "assistant", content: [{ type: "text", text: "Let me look." }, { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "oslo" } }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "sunny" }] }, { type: "text", text: "And tomorrow?" }] },
  ];
  const cases: [TestServer, Omit<Anthropic.MessageCountTokensParams, "model">][] = [
    [tiny, { messages: [{ role: "user", content: ask }] }],
    [tiny, { system: [{ type: "text", text: "You are terse." }], tools, messages: history }],
    [qwen, { tools, messages: history }],
    [qwen, { messages: [{ role: "user", content: ask }], thinking: { type: "disabled" } }],
    [qwen, { messages: [{ role: "user", content: ask }], thinking: { type: "enabled", budget_tokens: 2048 } }],
    [qwen, { messages: [{ role: "user", content: ask }], tools, tool_choice: { type: "tool", name: "get_weather" } }],
  ];
  const counts: number[] = [];
  for (const [s, params] of cases) {
    const { input_tokens } = await sdk(s).messages.countTokens({ model: "tiny", ...params });
    const m = await create(s, { model: "tiny", max_tokens: 1, temperature: 0, ...params } as Body, "count case");
    assert.equal(input_tokens, m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0), JSON.stringify(params).slice(0, 100));
    counts.push(input_tokens);
  }
  const closedBlock = ((await (await fetch(`${qwen.url}/tokenize`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", content: "<think>\n\n</think>\n\n" }) })).json()) as { tokens: number[] }).tokens.length;
  assert.equal(counts[3]! - counts[4]!, closedBlock, "thinking disabled closes Qwen3's block in the prompt");
  assert.equal(counts[4], (await sdk(qwen).messages.countTokens({ model: "tiny", messages: [{ role: "user", content: ask }] })).input_tokens, "enabled is Qwen3's default");
});

const weather = { type: "object" as const, properties: { city: { enum: ["oslo", "rome"] }, days: { type: "integer", minimum: 1, maximum: 7 } }, required: ["city", "days"], additionalProperties: false };
const tools: Anthropic.Tool[] = [
  { name: "get_weather", description: "The weather in a city.", input_schema: weather },
  { name: "get_time", description: "The time in a city.", input_schema: { type: "object", properties: { city: { type: "string", maxLength: 12 } }, required: ["city"] } },
];
const isWeather = (input: unknown) => {
  const i = input as { city?: unknown; days?: unknown };
  return (i.city === "oslo" || i.city === "rome") && Number.isInteger(i.days) && (i.days as number) >= 1 && (i.days as number) <= 7;
};

test("a forced tool call (tool, any) is a tool_use block with its input parsed; its tool_result goes back and the model answers", async () => {
  const question: Anthropic.MessageParam = { role: "user", content: "Weather in Oslo for 3 days?" };
  // Greedy decoding of random weights can pad JSON with whitespace up to any limit: sampled, seeded.
  const body: Body = { model: "tiny", max_tokens: 200, temperature: 1, seed: 100, tools, tool_choice: { type: "tool", name: "get_weather" }, messages: [question] };
  const whole = await create(tiny, body, "tiny forced tool");
  assert.equal(whole.stop_reason, "tool_use");
  assert.equal(whole.content.length, 1);
  const call = whole.content[0] as Anthropic.ToolUseBlock;
  assert.equal(call.type, "tool_use");
  assert.equal(call.name, "get_weather");
  assert.ok(isWeather(call.input), JSON.stringify(call.input));
  assert.deepEqual(comparable(await streamed(tiny, body, "tiny forced tool stream")), comparable(whole));

  const any = await create(tiny, { ...body, tool_choice: { type: "any", disable_parallel_tool_use: true } }, "tiny any");
  assert.equal(any.stop_reason, "tool_use");
  assert.deepEqual(any.content.map((b) => b.type), ["tool_use"]);

  const next = (result: string) => create(tiny, {
    model: "tiny", max_tokens: 4, temperature: 0, tools,
    messages: [question, { role: "assistant", content: whole.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: result }] }],
  }, "tiny after tool_result");
  const short = await next('{"forecast": "sunny"}');
  assert.equal(short.stop_reason, "max_tokens");
  assert.ok(text(short).length > 0);
  const long = await next('{"forecast": "sunny, sunny, sunny and then more sun"}');
  assert.ok(long.usage.input_tokens + (long.usage.cache_read_input_tokens ?? 0) > short.usage.input_tokens + (short.usage.cache_read_input_tokens ?? 0), "the result is in the prompt");
});

test("qwen3: a call the model writes in its own syntax (tool_choice auto) comes back as tool_use, streamed the same", async () => {
  // Random weights never start a call: a bias on Qwen's <tool_call> token starts it, the tools' grammar writes the rest.
  let calls = 0;
  for (let seed = 1; seed <= 3; seed++) {
    const body: Body = { model: "tiny", max_tokens: 80, temperature: 1, seed, tools, messages: [{ role: "user", content: "Weather in Oslo for 3 days?" }], tool_choice: { type: "auto", disable_parallel_tool_use: true }, logit_bias: { 151657: 100 } };
    const whole = await create(qwen, body, `qwen3 auto seed ${seed}`);
    assert.deepEqual(comparable(await streamed(qwen, body, `qwen3 auto stream seed ${seed}`)), comparable(whole), `seed ${seed}`);
    if (whole.stop_reason !== "tool_use") continue;
    calls++;
    const call = whole.content.find((b) => b.type === "tool_use")!;
    assert.ok(["get_weather", "get_time"].includes(call.name));
    assert.ok(!text(whole).includes(call.name), "the call's syntax is not text");
  }
  assert.ok(calls >= 2, `${calls} of 3 replies called a tool`);
});

test("qwen3: thinking comes back as a thinking block before the text, with an empty signature, streamed the same", async () => {
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: "What is 2 + 2?" }, { role: "assistant", content: [{ type: "thinking", thinking: "Let me think.", signature: "" }] }];
  let answered = 0;
  for (let seed = 1; seed <= 5; seed++) {
    // Random weights think on and on: a bias on </think> (151668) closes the block after a few tokens.
    const body: Body = { model: "tiny", max_tokens: 24, temperature: 1, seed, messages, thinking: { type: "enabled", budget_tokens: 1024 }, logit_bias: { 151668: 14 } };
    const whole = await create(qwen, body, `qwen3 thinking seed ${seed}`);
    assert.deepEqual(comparable(await streamed(qwen, body, `qwen3 thinking stream seed ${seed}`)), comparable(whole), `seed ${seed}`);
    // A block closed at once has no text: no thinking block then, as the engine reports no reasoning.
    const types = whole.content.map((b) => b.type).join(",");
    assert.ok(["thinking", "thinking,text", "text"].includes(types), `seed ${seed}: ${types}`);
    const thought = whole.content.find((b) => b.type === "thinking");
    assert.equal(thought?.signature ?? "", "");
    assert.doesNotMatch((thought?.thinking ?? "") + text(whole), /<\/?think>/);
    const thinkingTokens = whole.usage.output_tokens_details?.thinking_tokens ?? 0;
    assert.ok(thinkingTokens >= 1 && thinkingTokens <= whole.usage.output_tokens);
    if (types === "thinking,text") answered++;
  }
  assert.ok(answered >= 2, `the block closed and text followed in ${answered} of 5`);
  const omitted = await create(qwen, { model: "tiny", max_tokens: 6, temperature: 0, messages, thinking: { type: "enabled", budget_tokens: 1024, display: "omitted" }, logit_bias: { 151668: -100 } }, "qwen3 omitted");
  assert.deepEqual(omitted.content, [{ type: "thinking", thinking: "", signature: "" }]);
});

test("an error after the stream began is an `error` event in Anthropic's shape, and the SDK throws it", async () => {
  const s = await startServer({ config: { inference: { context_length: 4096 }, batching: { timeout_ms: 600 } } });
  try {
    const body = { model: "tiny", max_tokens: 4000, temperature: 0, stop_sequences: ["\u0001never"], messages: [{ role: "user", content: ask }] };
    const res = await fetch(`${s.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
    assert.equal(res.status, 200);
    const frames = (await res.text()).split("\n\n").filter(Boolean);
    assert.match(frames[0]!, /^event: message_start\n/);
    const last = frames.at(-1)!;
    assert.match(last, /^event: error\n/);
    const error = JSON.parse(last.split("\n")[1]!.replace(/^data: /, "")) as { error: { type: string } };
    assert.equal(error.error.type, "timeout_error");
    conformance.add("ErrorResponse", error, "stream error event");
    const thrown = await sdk(s).messages.stream(body as Body).finalMessage().then(() => null, (e: unknown) => e);
    assert.ok(thrown instanceof Anthropic.APIError, String(thrown));
    assert.match(thrown.message, /did not finish within/);
  } finally {
    await s.close();
  }
});

test("every Message and stream event received conforms to @anthropic-ai/sdk's types", async () => {
  await conformance.check();
});
