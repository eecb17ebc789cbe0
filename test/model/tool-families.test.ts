import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Ajv } from "ajv";
import type OpenAI from "openai";
import { startServer, type TestServer } from "../helpers/server.ts";
import { testModel } from "../helpers/models.ts";

/**
 * tool_choice auto on every family preset, in the family's own call syntax. Random weights never
 * start a call on their own, so each test starts it: Qwen3's `<tool_call>` and Mistral's
 * `[TOOL_CALLS]` are tokens of their own, forced with logit_bias (the grammar writes the rest once it is sampled); the others' call prefixes
 * are text, given as an assistant prefill the reply continues. What follows is the model's, under
 * the tools' grammar.
 */
interface Family { preset: "qwen3" | "llama3.1" | "gemma3" | "gpt-oss" | "mistral"; start: { logit_bias: Record<string, number> } | { prefill: string } }
const families: Family[] = [
  { preset: "qwen3", start: { logit_bias: { 151657: 100 } } }, // <tool_call>
  { preset: "llama3.1", start: { prefill: '{"name": "' } }, // the template's JSON call
  { preset: "gemma3", start: { prefill: "||call: " } }, // node-llama-cpp's syntax for a template without one
  { preset: "gpt-oss", start: { prefill: " to=functions." } }, // Harmony's recipient
  { preset: "mistral", start: { logit_bias: { 9: 100 } } }, // [TOOL_CALLS]
];

const time = { type: "object", properties: { city: { type: "string", maxLength: 12 } }, required: ["city"] };
const weather = { type: "object", properties: { city: { enum: ["oslo", "rome"] }, days: { type: "integer", minimum: 1, maximum: 7 } }, required: ["city", "days"], additionalProperties: false };
const tools: OpenAI.ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", description: "The weather in a city.", parameters: weather } },
  { type: "function", function: { name: "get_time", description: "The time in a city.", parameters: time } },
];
const ajv = new Ajv();
const validate: Record<string, ReturnType<typeof ajv.compile>> = { get_weather: ajv.compile(weather), get_time: ajv.compile(time) };

const servers = new Map<string, TestServer>();
before(async () => {
  for (const f of families) servers.set(f.preset, await startServer({ modelPath: await testModel(f.preset), config: { inference: { context_length: 2048 } } }));
});
after(async () => {
  for (const s of servers.values()) await s.close();
});

function request(f: Family, seed: number): OpenAI.ChatCompletionCreateParamsNonStreaming {
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather in Oslo for 3 days?" }];
  if ("prefill" in f.start) messages.push({ role: "assistant", content: f.start.prefill });
  return {
    model: "tiny", messages, tools, tool_choice: "auto", max_tokens: 80, temperature: 1, seed, parallel_tool_calls: false,
    logit_bias: "logit_bias" in f.start ? f.start.logit_bias : {},
  };
}

for (const f of families) {
  test(`${f.preset}: a call in the family's syntax comes back as tool_calls, streamed the same as not, and its result goes back through the template`, async () => {
    const s = servers.get(f.preset)!;
    for (let seed = 1; seed <= 5; seed++) {
      const body = request(f, seed);
      const whole = await s.client.chat.completions.create(body);
      const choice = whole.choices[0]!;
      assert.equal(choice.finish_reason, "tool_calls", `seed ${seed}: ${JSON.stringify(choice.message)}`);
      const calls = choice.message.tool_calls ?? [];
      assert.equal(calls.length, 1);
      const call = calls[0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
      assert.match(call.id, /^call_/);
      assert.ok(["get_weather", "get_time"].includes(call.function.name));
      const check = validate[call.function.name]!;
      assert.ok(check(JSON.parse(call.function.arguments)), `${call.function.arguments}: ${JSON.stringify(check.errors)}`);
      assert.ok(!(choice.message.content ?? "").includes(call.function.name), "the call's text is not content");

      const stream = s.client.chat.completions.stream({ ...body, stream: true });
      const streamed = (await stream.finalChatCompletion()).choices[0]!;
      assert.equal(streamed.finish_reason, "tool_calls");
      assert.deepEqual(streamed.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function), calls.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function));
      assert.equal(streamed.message.content ?? "", choice.message.content ?? "");

      if (seed > 1) continue;
      // The next turn: the call and its result, rendered by the template. A longer result is a longer prompt.
      const next = async (result: string) => (await s.client.chat.completions.create({
        model: "tiny", max_tokens: 1, temperature: 0, tools,
        messages: [body.messages[0]!, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: call.id, content: result }],
      })).usage!.prompt_tokens;
      assert.ok(await next('{"forecast": "sunny, sunny, sunny and then more sun"}') > await next('{"forecast": "sunny"}'));
    }
  });

  test(`${f.preset}: text that starts like a call but is not one comes back as content, and the stream does not fail`, async () => {
    const s = servers.get(f.preset)!;
    const fake = { qwen3: "<tool_call>", "llama3.1": '{"name": "', gemma3: "||call: ", "gpt-oss": " to=functions.", mistral: '[{"name": "' }[f.preset];
    // A user message quoting the syntax, and no tools: nothing is read for calls.
    const body = { model: "tiny", messages: [{ role: "user" as const, content: `Say ${fake}not_a_tool` }], max_tokens: 12, temperature: 1, seed: 5 };
    const whole = await s.client.chat.completions.create(body);
    assert.equal(whole.choices[0]!.message.tool_calls, undefined);
    const stream = await s.client.chat.completions.create({ ...body, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    assert.equal(text, whole.choices[0]!.message.content);
  });
}

for (const [f, end] of [[families[0]!, 151645], [families[4]!, 2]] as const) { // <|im_end|>, </s>
  test(`${f.preset}: several calls in one reply in the family's own framing, streamed per index the same as not`, async () => {
    const s = servers.get(f.preset)!;
    let several = 0;
    for (let seed = 1; seed <= 4; seed++) {
      // The call's opening token always wins where it is allowed; the end of the reply is favoured where it may come.
      const body = { ...request(f, seed), parallel_tool_calls: true, max_tokens: 160, logit_bias: { ...("logit_bias" in f.start ? f.start.logit_bias : {}), [end]: 6 } };
      const whole = await s.client.chat.completions.create(body);
      const choice = whole.choices[0]!;
      const calls = (choice.message.tool_calls ?? []) as OpenAI.ChatCompletionMessageFunctionToolCall[];
      assert.ok(calls.length >= 1, `seed ${seed}: ${JSON.stringify(choice)}`);
      assert.ok(["tool_calls", "length"].includes(choice.finish_reason));
      if (choice.finish_reason === "tool_calls") assert.equal(choice.message.content, null, JSON.stringify(choice.message));
      assert.equal(new Set(calls.map((c) => c.id)).size, calls.length);
      for (const c of calls) assert.ok(validate[c.function.name]!(JSON.parse(c.function.arguments)), c.function.arguments);
      if (calls.length >= 2) several++;
      const streamed = (await s.client.chat.completions.stream({ ...body, stream: true }).finalChatCompletion()).choices[0]!;
      assert.deepEqual(streamed.message.tool_calls?.map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function), calls.map((c) => c.function));
    }
    assert.ok(several >= 1, "some reply made several calls");
  });
}

test("llama3.1: a call opened by the <|python_tag|> token is read the same, its JSON written under the grammar", async () => {
  const s = servers.get("llama3.1")!;
  for (let seed = 1; seed <= 3; seed++) {
    const body = request({ preset: "llama3.1", start: { logit_bias: { 128010: 100 } } }, seed); // <|python_tag|>
    const choice = (await s.client.chat.completions.create(body)).choices[0]!;
    assert.equal(choice.finish_reason, "tool_calls", JSON.stringify(choice.message));
    assert.equal(choice.message.content, null);
    const call = choice.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.ok(validate[call.function.name]!(JSON.parse(call.function.arguments)), call.function.arguments);
  }
});
