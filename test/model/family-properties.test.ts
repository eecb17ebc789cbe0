import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Ajv } from "ajv";
import type OpenAI from "openai";
import { startServer, type TestServer } from "../helpers/server.ts";
import { testModel } from "../helpers/models.ts";

/**
 * Properties of constrained output on every family preset, over seeds and temperatures: each
 * json_schema answer and each forced tool call parses, follows its schema with lengths counted as
 * a client counts them (characters of the decoded string), holds no broken UTF-8 (U+FFFD), and the
 * streamed text is the non-streamed text for the same seed.
 */
const presets = ["llama3.1", "qwen3", "gemma3", "gpt-oss", "mistral"] as const;
/** Qwen3 thinks before a constrained answer: its closing marker is favoured, so that the answer comes within max_tokens. */
const extra: Record<string, object> = { qwen3: { logit_bias: { 151668: 12 } } };
const seeds = [1, 2, 3, 4, 5];
const temperatures = [0.8, 1.6];

const answerSchema = {
  type: "object",
  properties: { title: { type: "string", minLength: 1, maxLength: 16 }, tags: { type: "array", items: { enum: ["red", "blue"] }, maxItems: 3 }, score: { type: "integer" } },
  required: ["title", "tags", "score"],
  additionalProperties: false,
};
const noteSchema = { type: "object", properties: { text: { type: "string", maxLength: 12 } }, required: ["text"], additionalProperties: false };
const tools: OpenAI.ChatCompletionTool[] = [{ type: "function", function: { name: "note", description: "Takes a note.", parameters: noteSchema } }];
const ajv = new Ajv();
const validAnswer = ajv.compile(answerSchema);
const validNote = ajv.compile(noteSchema);

const servers = new Map<string, TestServer>();
before(async () => {
  for (const p of presets) servers.set(p, await startServer({ modelPath: await testModel(p), config: { inference: { context_length: 2048 } } }));
});
after(async () => {
  for (const s of servers.values()) await s.close();
});

/** The answer's content and its calls' arguments, streamed (deltas joined) or not. */
async function run(s: TestServer, body: OpenAI.ChatCompletionCreateParamsNonStreaming, stream: boolean): Promise<{ content: string; args: string[] }> {
  if (!stream) {
    const m = (await s.client.chat.completions.create(body)).choices[0]!.message;
    return { content: m.content ?? "", args: (m.tool_calls ?? []).map((c) => (c as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments) };
  }
  let content = "";
  const args: string[] = [];
  for await (const chunk of await s.client.chat.completions.create({ ...body, stream: true })) {
    const d = chunk.choices[0]?.delta;
    content += d?.content ?? "";
    for (const c of d?.tool_calls ?? []) args[c.index] = (args[c.index] ?? "") + (c.function?.arguments ?? "");
  }
  return { content, args };
}

for (const preset of presets) {
  test(`${preset}: json_schema answers and forced calls parse, validate, are whole UTF-8, and stream as they answer`, async () => {
    const s = servers.get(preset)!;
    for (const temperature of temperatures) {
      for (const seed of seeds) {
        const at = `seed ${seed}, temperature ${temperature}`;
        const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Describe a colour." }];
        const answer = { model: "tiny", messages, max_tokens: 128, temperature, seed, ...extra[preset], response_format: { type: "json_schema" as const, json_schema: { name: "answer", schema: answerSchema } } };
        const call = { model: "tiny", messages, max_tokens: 96, temperature, seed, ...extra[preset], tools, tool_choice: { type: "function" as const, function: { name: "note" } } };
        for (const [body, check] of [[answer, (text: string) => validAnswer(JSON.parse(text))], [call, (text: string) => validNote(JSON.parse(text))]] as const) {
          const whole = await run(s, body, false);
          const text = body === answer ? whole.content : whole.args[0] ?? "";
          assert.ok(!text.includes("\uFFFD"), `${at}: broken UTF-8 in ${JSON.stringify(text)}`);
          assert.ok(check(text), `${at}: ${text} ${JSON.stringify(ajv.errors ?? validAnswer.errors ?? validNote.errors)}`);
          assert.deepEqual(await run(s, body, true), whole, `${at}: streamed`);
        }
      }
    }
  });
}
