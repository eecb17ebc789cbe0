import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, stepCountIs, tool, type ModelMessage } from "ai";
import { z } from "zod";
import { startServer, type TestServer } from "../helpers/server.ts";
import { testModel } from "../helpers/models.ts";

/**
 * The Vercel AI SDK's multi-step tool loop on every family preset, tool_choice auto: the first step
 * calls a tool in the family's own syntax (started as in tool-families.test.ts: Qwen3's
 * `<tool_call>` token by logit_bias, the others' text prefixes by an assistant prefill), the SDK
 * runs it, and the second step answers with the call and its result rendered by the template.
 */
const families = [
  { preset: "qwen3", bias: { 151657: 100 } },
  { preset: "llama3.1", prefill: '{"name": "' },
  { preset: "gemma3", prefill: "||call: " },
  { preset: "gpt-oss", prefill: " to=functions." },
  { preset: "mistral", bias: { 9: 100 } },
] as const;

const servers = new Map<string, TestServer>();
before(async () => {
  for (const f of families) servers.set(f.preset, await startServer({ modelPath: await testModel(f.preset), config: { inference: { context_length: 2048 } } }));
});
after(async () => {
  for (const s of servers.values()) await s.close();
});

const Time = z.object({ city: z.string().max(12) });

for (const f of families) {
  test(`${f.preset}: generateText runs a tool the model called in its own syntax, then answers with the result`, async () => {
    const s = servers.get(f.preset)!;
    const model = createOpenAICompatible({ name: "hearth", baseURL: `${s.url}/v1`, apiKey: "unused" }).chatModel("tiny");
    const ran: unknown[] = [];
    const messages: ModelMessage[] = [{ role: "user", content: "What time is it in Oslo?" }];
    if ("prefill" in f) messages.push({ role: "assistant", content: f.prefill });
    const result = await generateText({
      model, messages, maxOutputTokens: 48, temperature: 1, seed: 2,
      tools: { get_time: tool({ description: "The time in a city.", inputSchema: Time, execute: async (input) => { ran.push(input); return `noon in ${input.city}`; } }) },
      stopWhen: stepCountIs(2),
      // Only the first step is pushed towards a call; the second answers as the model will.
      prepareStep: ({ stepNumber }) => (stepNumber === 0 && "bias" in f ? { providerOptions: { hearth: { logit_bias: f.bias } } } : {}),
    });
    assert.equal(result.steps.length, 2);
    const [first, second] = result.steps as [typeof result.steps[0], typeof result.steps[0]];
    assert.equal(first.finishReason, "tool-calls");
    assert.equal(first.toolCalls.length, 1);
    assert.equal(first.toolCalls[0]!.toolName, "get_time");
    assert.doesNotThrow(() => Time.parse(first.toolCalls[0]!.input));
    assert.deepEqual(ran, [first.toolCalls[0]!.input]);
    assert.equal(first.toolResults[0]!.output, `noon in ${(first.toolCalls[0]!.input as { city: string }).city}`);
    assert.equal(second.toolCalls.length, 0);
    assert.equal(typeof second.text, "string");
    // The second prompt holds the first, the call and its result.
    assert.ok(second.usage.inputTokens! > first.usage.inputTokens!);
  });
}
