import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Ajv } from "ajv";
import type OpenAI from "openai";
import { testModel } from "../helpers/models.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/**
 * Whatever a model samples, what a client reads is valid UTF-8: random weights at high temperature
 * pick parts of characters all the time. JSON output meets its string bounds as a client counts
 * them (code points of the decoded string), free text is exactly the decoding of the bytes
 * generated (a character cut short by max_tokens left out, never a U+FFFD), and stream deltas never
 * split a character. On the byte vocabulary (`tiny`, every non-ASCII character spelled in bytes)
 * and the real Llama 3 one (`tiny-llama3`).
 */
const servers: Record<"tiny" | "tiny-llama3", TestServer> = {} as never;
before(async () => {
  servers.tiny = await startServer();
  servers["tiny-llama3"] = await startServer({ modelPath: await testModel("tiny-llama3") });
});
after(() => Promise.all(Object.values(servers).map((s) => s.close())));

const schema = {
  type: "object",
  properties: { s: { type: "string", minLength: 1, maxLength: 16 }, t: { type: "string", maxLength: 4 } },
  required: ["s", "t"],
  additionalProperties: false,
};
// ajv counts string lengths in code points, as JSON Schema does (its `unicode` option, on by default).
const validate = new Ajv().compile(schema);
const messages = [{ role: "user" as const, content: "Write something." }];
type Logprobs = OpenAI.Chat.Completions.ChatCompletion.Choice["logprobs"];

/**
 * Why `content` is not what a client should read from these tokens, or null: their bytes must be
 * valid UTF-8 and decode to exactly `content`, save an unfinished last character (a cut). Special
 * tokens' logprobs carry their names, which the text leaves out.
 */
function textProblem(content: string, logprobs: Logprobs): string | null {
  const bytes = (logprobs?.content ?? []).filter((t) => !/^<\|[a-z_0-9]+\|>$/.test(t.token)).flatMap((t) => t.bytes ?? []);
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes), { stream: true });
  } catch {
    return `invalid UTF-8 generated: ${JSON.stringify(content)}`;
  }
  return decoded === content ? null : `${JSON.stringify(content)} is not the generated ${JSON.stringify(decoded)}`;
}

/**
 * Runs `check` for every seed at every temperature, two at a time (the servers have two slots);
 * asserts that none failed, saying how many did at each temperature.
 */
async function everySeed(temperatures: readonly number[], seeds: number, check: (temperature: number, seed: number) => Promise<string | null>): Promise<void> {
  const counts: string[] = [];
  const examples: string[] = [];
  for (const temperature of temperatures) {
    let failed = 0;
    for (let seed = 0; seed < seeds; seed += 2) {
      for (const problem of await Promise.all([check(temperature, seed), check(temperature, seed + 1)])) {
        if (!problem) continue;
        failed++;
        if (examples.length < 3) examples.push(problem);
      }
    }
    counts.push(`${failed} of ${seeds} at temperature ${temperature}`);
  }
  assert.equal(examples.length, 0, `${counts.join(", ")}: ${examples.join("; ")}`);
}

/**
 * Per vocabulary: seeds per temperature, and top_k. The byte vocabulary samples its 512 tokens
 * whole; on the 128k one the server's default top_k keeps each token's logprobs short, and its
 * random weights still pick a partial character every few dozen tokens.
 */
const runs = [["tiny", 24, { top_k: 0 }], ["tiny-llama3", 16, {}]] as const;
for (const [preset, seeds, topK] of runs) {
  test(`${preset}: json_schema strings parse, follow the schema as a client counts, and are the bytes generated, at temperatures 1, 1.5 and 2`, async () => {
    const server = servers[preset];
    await everySeed([1, 1.5, 2], seeds, async (temperature, seed) => {
      const res = await server.client.chat.completions.create({
        model: server.model, messages, temperature, seed, max_tokens: 300, logprobs: true, ...topK,
        response_format: { type: "json_schema", json_schema: { name: "note", schema } },
      } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
      const { content } = res.choices[0]!.message;
      let value: unknown;
      try {
        value = JSON.parse(content ?? "");
      } catch {
        return `not JSON: ${JSON.stringify(content)}`;
      }
      if (!validate(value)) return `${JSON.stringify(content)}: ${JSON.stringify(validate.errors)}`;
      if ([...(value as { s: string }).s].length > 16) return `${JSON.stringify(content)}: s is longer than 16 characters`;
      return textProblem(content!, res.choices[0]!.logprobs);
    });
  });

  test(`${preset}: free text at temperatures 1.5 and 2 is the bytes generated, cut or not, and streams in whole characters`, async () => {
    const server = servers[preset];
    await everySeed([1.5, 2], seeds, async (temperature, seed) => {
      // Odd seeds with a penalty: the guard then bans rather than raises (see Utf8Guard).
      const request = { model: server.model, messages, temperature, max_tokens: 40, ...topK, ...(seed % 2 ? { frequency_penalty: 0.5 } : {}) };
      const res = await server.client.chat.completions.create({ ...request, seed, logprobs: true } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
      const content = res.choices[0]!.message.content ?? "";
      const problem = textProblem(content, res.choices[0]!.logprobs);
      if (problem) return problem;
      const stream = await server.client.chat.completions.create({ ...request, seed, stream: true } as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming);
      let streamed = "";
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta.content ?? "";
        if (!delta.isWellFormed()) return `a delta holds a lone surrogate: ${JSON.stringify(delta)}`;
        streamed += delta;
      }
      return streamed === content ? null : `streamed ${JSON.stringify(streamed)} is not ${JSON.stringify(content)}`;
    });
  });
}
