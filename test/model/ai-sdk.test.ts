import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateObject, generateText, streamText, tool } from "ai";
import { z } from "zod";
import { startServer, type TestServer } from "../helpers/server.ts";

/**
 * The Vercel AI SDK, through its OpenAI-compatible provider, against a real Hearth: forced tool calls
 * and objects come back parsed and valid against the schema, even from a model with random weights
 * (the grammar guarantees it). Schemas use enums and bounded numbers: with a byte vocabulary, free
 * strings can hit a llama.cpp grammar gap (see docs/api.md).
 */
let server: TestServer;
before(async () => { server = await startServer({ config: { inference: { context_length: 4096 } } }); });
after(() => server.close());

const provider = () => createOpenAICompatible({ name: "hearth", baseURL: `${server.url}/v1`, apiKey: "unused", supportsStructuredOutputs: true });
const Forecast = z.object({
  city: z.enum(["Paris", "Lima", "Oslo"]),
  days: z.number().int().min(1).max(7),
  units: z.enum(["metric", "imperial"]),
  alerts: z.boolean(),
});

test("generateText with a required tool gives parsed arguments that follow the tool's schema", async () => {
  for (let i = 0; i < 5; i++) {
    const result = await generateText({
      model: provider().chatModel("tiny"),
      prompt: `What is the weather? (${i})`,
      tools: { forecast: tool({ description: "The weather forecast for a city", inputSchema: Forecast }) },
      toolChoice: "required",
      maxOutputTokens: 200,
      seed: i,
    });
    // `required` with parallel calls allowed (OpenAI's default) is one call or more, as in vLLM.
    assert.ok(result.toolCalls.length >= 1, `seed ${i}: no call`);
    for (const call of result.toolCalls) {
      assert.equal(call.toolName, "forecast");
      assert.doesNotThrow(() => Forecast.parse(call.input));
    }
    assert.equal(result.finishReason, "tool-calls");
  }
});

test("streamText with a required tool streams a call whose arguments validate", async () => {
  const result = streamText({
    model: provider().chatModel("tiny"),
    prompt: "Stream the weather.",
    tools: { forecast: tool({ description: "The weather forecast for a city", inputSchema: Forecast }) },
    toolChoice: "required",
    maxOutputTokens: 200,
    seed: 1,
  });
  const calls = await result.toolCalls;
  assert.ok(calls.length >= 1, "no call");
  for (const call of calls) assert.doesNotThrow(() => Forecast.parse(call.input));
});

test("generateObject returns an object that follows the schema", async () => {
  for (let i = 0; i < 5; i++) {
    const { object } = await generateObject({ model: provider().chatModel("tiny"), schema: Forecast, prompt: `A forecast, please (${i}).`, maxOutputTokens: 200 });
    assert.doesNotThrow(() => Forecast.parse(object));
  }
});

test("a bounded integer is enforced as the set of its values; an unbounded or too wide one is refused, naming it", async () => {
  const ask = (days: object) => fetch(`${server.url}/v1/chat/completions`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "n" }], max_tokens: 40, response_format: { type: "json_schema", json_schema: { name: "n", schema: { type: "object", properties: { days }, required: ["days"] } } } }),
  });
  for (let i = 0; i < 5; i++) {
    const res = await ask({ type: "integer", exclusiveMinimum: 2, maximum: 5 });
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    const days = (JSON.parse(body.choices[0]!.message.content) as { days: number }).days;
    assert.ok(Number.isInteger(days) && days > 2 && days <= 5, `days ${days}`);
  }
  for (const [days, param] of [[{ type: "integer", minimum: 0 }, "minimum"], [{ type: "integer", minimum: 0, maximum: 1e6 }, "maximum"], [{ type: "number", minimum: 0, maximum: 1 }, "minimum"]] as const) {
    const res = await ask(days);
    assert.equal(res.status, 400);
    const err = ((await res.json()) as { error: { code: string; param: string } }).error;
    assert.equal(err.code, "unsupported_parameter");
    assert.equal(err.param, `response_format.json_schema.schema.properties.days.${param}`);
  }
});
