import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { testModel } from "../helpers/models.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

// One slot each, so that every other conversation takes the slot away. F16: see prompt-sharing.test.ts.
let cached: TestServer;
let uncached: TestServer;
let small: TestServer;
let few: TestServer;
const BUDGET = 120_000;
const ENTRIES = 3;
before(async () => {
  const modelPath = await testModel("tiny", 7, "f16");
  const batching = { max_batch_size: 1 };
  [cached, uncached, small, few] = await Promise.all([
    startServer({ modelPath, config: { batching } }),
    startServer({ modelPath, config: { batching, cache: { enabled: false, prompt_ram_bytes: 0 } } }),
    startServer({ modelPath, config: { batching, cache: { enabled: false, prompt_ram_bytes: BUDGET } } }),
    startServer({ modelPath, config: { batching, cache: { enabled: false, prompt_entries: ENTRIES } } }),
  ]);
});
after(() => Promise.all([cached.close(), uncached.close(), small.close(), few.close()]));

type Message = { role: "system" | "user" | "assistant"; content: string };
const turn = async (server: TestServer, messages: Message[]) => {
  const res = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 24, temperature: 0 });
  return { text: res.choices[0]!.message.content ?? "", cachedTokens: res.usage!.prompt_tokens_details?.cached_tokens ?? 0, promptTokens: res.usage!.prompt_tokens };
};
interface CacheStats { entries: number; bytes: number; hits: number; hit_tokens: number }
const stats = async (server: TestServer) => ((await (await fetch(`${server.url}/v1/slots`)).json()) as { models: { steps: { prompt_cache: CacheStats } }[] }).models[0]!.steps.prompt_cache;

const chat = (topic: string): Message[] => [{ role: "system", content: `You talk about ${topic}. `.repeat(6) }, { role: "user", content: `Tell me about ${topic}.` }];

test("a conversation's next turn, after another took its slot, is restored from the prompt cache and answers as if evaluated", async () => {
  for (const server of [cached, uncached]) {
    const a = chat("the hearth");
    const first = await turn(server, a);
    await turn(server, chat("the weather")); // takes the one slot
    const before = await stats(server);
    const next = await turn(server, [...a, { role: "assistant", content: first.text }, { role: "user", content: "And then?" }]);
    const after = await stats(server);
    if (server === cached) {
      assert.equal(after.hits - before.hits, 1);
      assert.ok(next.cachedTokens >= first.promptTokens, `${next.cachedTokens} cached of the ${first.promptTokens} + reply the first turn left`);
      (globalThis as { restored?: string }).restored = next.text;
    } else {
      assert.equal(after.hits, 0);
      assert.ok(next.cachedTokens < 40, `without the cache the turn is evaluated, but for the start it shares with the other chat (${next.cachedTokens})`);
      assert.equal(next.text, (globalThis as { restored?: string }).restored, "the same answer from a restored state as from scratch");
    }
  }
});

test("the prompt cache never holds more than its byte budget; the least recently used go first", async () => {
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) {
    await turn(small, chat(`topic number ${i}`));
    const s = await stats(small);
    assert.ok(s.bytes <= BUDGET, `${s.bytes} bytes held, budget ${BUDGET}`);
    seen.push(s.entries);
  }
  assert.ok(Math.max(...seen) >= 2, `entries over time: ${seen}`);
  const last = await stats(small);
  assert.ok(last.entries < 7, `older entries were evicted: ${last.entries} left`);
});

test("the prompt cache never holds more than its entry bound under churn, and still restores the conversation that left last", async () => {
  const seen: number[] = [];
  for (let i = 0; i < 10; i++) {
    await turn(few, chat(`subject ${i}`));
    seen.push((await stats(few)).entries);
  }
  assert.ok(seen.every((n) => n <= ENTRIES), `entries over time: ${seen}`);
  assert.equal(seen.at(-1), ENTRIES, `full, not emptied: ${seen}`);
  const a = chat("the hearth");
  const first = await turn(few, a);
  await turn(few, chat("the weather")); // takes the one slot: the hearth's turn is saved, the oldest entry goes
  const before = await stats(few);
  const next = await turn(few, [...a, { role: "assistant", content: first.text }, { role: "user", content: "And then?" }]);
  const after = await stats(few);
  assert.equal(after.hits - before.hits, 1);
  assert.ok(next.cachedTokens >= first.promptTokens, `${next.cachedTokens} cached of the ${first.promptTokens} the first turn took`);
  assert.ok(after.entries <= ENTRIES);
});
