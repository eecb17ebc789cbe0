import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { testModel } from "../helpers/models.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

// F16: on AVX-512 machines llama.cpp's Q8_0 kernels give slightly different logits for one sequence
// in different batch compositions, so only an F16 model can show "exactly the same text".
let sharing: TestServer;
let scratch: TestServer;
before(async () => {
  const modelPath = await testModel("tiny", 7, "f16");
  const batching = { max_batch_size: 4 };
  sharing = await startServer({ modelPath, config: { batching } });
  scratch = await startServer({ modelPath, config: { batching: { ...batching, prefix_copy_min_tokens: 0 } } });
});
after(() => Promise.all([sharing.close(), scratch.close()]));

const system = "You are the keeper of a hearth in a cold valley. ".repeat(8);
const ask = (server: TestServer, user: string, extra: Record<string, unknown> = {}) => server.client.chat.completions.create({
  model: server.model, max_tokens: 16, temperature: 0, ...extra,
  messages: [{ role: "system", content: system }, { role: "user", content: user }],
});

interface Steps { prompt_tokens: number; cached_prompt_tokens: number; state_copies: number; copied_prompt_tokens: number }
async function steps(server: TestServer): Promise<Steps> {
  const res = await fetch(`${server.url}/v1/slots`);
  return ((await res.json()) as { models: { steps: Steps }[] }).models[0]!.steps;
}
const delta = (a: Steps, b: Steps) => ({ evaluated: b.prompt_tokens - a.prompt_tokens, copies: b.state_copies - a.state_copies, copied: b.copied_prompt_tokens - a.copied_prompt_tokens, reused: b.cached_prompt_tokens - a.cached_prompt_tokens });

test("requests sharing a system prompt evaluate it once and answer exactly as if each evaluated it", async () => {
  const users = ["Light the fire.", "Where is the wood?", "Is it cold tonight?"];
  const before = await steps(sharing);
  const shared = await Promise.all(users.map((u) => ask(sharing, u)));
  const used = delta(before, await steps(sharing));

  const prompts = shared.map((r) => r.usage!.prompt_tokens);
  const total = prompts.reduce((a, b) => a + b, 0);
  assert.equal(used.copies, 2, "the second and third requests copy the first one's prefix");
  assert.ok(used.copied >= 2 * system.length, `${used.copied} tokens copied, the system prompt is ${system.length}`);
  assert.equal(used.evaluated, total - used.copied, "copied tokens are not evaluated");
  assert.deepEqual(shared.map((r) => r.usage!.prompt_tokens_details?.cached_tokens ?? 0).sort((a, b) => a - b).slice(1).every((c) => c >= system.length), true);

  for (const [i, u] of users.entries()) {
    const alone = await ask(scratch, u);
    assert.equal(shared[i]!.choices[0]!.message.content, alone.choices[0]!.message.content, `"${u}": same text from copied state and from scratch`);
  }
  assert.equal((await steps(scratch)).state_copies, 0);
});

test("n choices share one evaluation of their prompt", async () => {
  const before = await steps(sharing);
  const res = await ask(sharing, "Tell me a story by the fire.", { n: 3 });
  const used = delta(before, await steps(sharing));
  const promptTokens = res.usage!.prompt_tokens;
  assert.equal(used.copies, 2);
  // Each copied choice evaluates only the prompt's last token again, to sample its first token (the
  // first choice may itself reuse the system prompt its slot kept from the test before).
  assert.equal(used.evaluated + used.reused, 3 * promptTokens);
  assert.ok(used.evaluated <= promptTokens + 2, `${used.evaluated} prompt tokens evaluated for 3 choices of ${promptTokens}`);
  const texts = res.choices.map((c) => c.message.content);
  assert.equal(new Set(texts).size, 1, `greedy choices are the same text: ${JSON.stringify(texts)}`);
  const alone = await ask(scratch, "Tell me a story by the fire.");
  assert.equal(texts[0], alone.choices[0]!.message.content);
});
