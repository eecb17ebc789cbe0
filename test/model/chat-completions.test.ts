import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { tinyChatPromptTokens } from "../helpers/prompts.ts";

let server: TestServer;
before(async () => { server = await startServer(); });
after(() => server.close());

const messages = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: "Tell me about hearths." },
];

test("a chat completion has OpenAI's shape and usage counts the tokenizer's tokens", async () => {
  const before = Math.floor(Date.now() / 1000);
  const res = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 12, temperature: 0 });
  assert.match(res.id, /^chatcmpl-/);
  assert.equal(res.object, "chat.completion");
  assert.equal(res.model, server.model);
  assert.ok(res.created >= before && res.created <= Math.floor(Date.now() / 1000));
  assert.equal(res.choices.length, 1);
  assert.equal(res.choices[0]!.message.role, "assistant");
  assert.equal(typeof res.choices[0]!.message.content, "string");
  assert.equal(res.choices[0]!.finish_reason, "length");
  assert.deepEqual(
    { p: res.usage?.prompt_tokens, c: res.usage?.completion_tokens, t: res.usage?.total_tokens },
    { p: tinyChatPromptTokens(messages), c: 12, t: tinyChatPromptTokens(messages) + 12 },
  );
});

test("streamed deltas concatenate to the non-streamed answer for the same greedy request", async () => {
  const request = { model: server.model, messages, max_tokens: 40, temperature: 0, seed: 1 };
  const whole = await server.client.chat.completions.create(request);
  const stream = await server.client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);

  const first = chunks[0]!;
  assert.equal(first.object, "chat.completion.chunk");
  assert.equal(first.choices[0]?.delta.role, "assistant");
  assert.ok(chunks.every((c) => c.id === first.id && c.created === first.created && c.model === server.model));
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
  assert.equal(text, whole.choices[0]!.message.content);
  const finishes = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
  assert.deepEqual(finishes, [whole.choices[0]!.finish_reason]);
  const usageChunk = chunks.at(-1)!;
  assert.deepEqual(usageChunk.choices, []);
  assert.equal(usageChunk.usage?.prompt_tokens, whole.usage?.prompt_tokens);
  assert.equal(usageChunk.usage?.completion_tokens, whole.usage?.completion_tokens);
  assert.ok(chunks.slice(0, -1).every((c) => c.usage === null), "usage is null on every chunk but the last");
});

test("a stop sequence cuts the text before it and finishes with stop", async () => {
  const request = { model: server.model, messages, max_tokens: 40, temperature: 0 };
  const full = (await server.client.chat.completions.create(request)).choices[0]!.message.content!;
  // Any two characters from the middle of the greedy answer will do, as long as they are real text.
  const at = Array.from(full, (_, i) => i).find((i) => i >= 4 && !full.slice(i, i + 2).includes("\uFFFD") && full.slice(i, i + 2).length === 2);
  assert.ok(at !== undefined, `no usable stop string in ${JSON.stringify(full)}`);
  const stop = full.slice(at, at + 2);
  const res = await server.client.chat.completions.create({ ...request, stop: [stop, "never-appears"] });
  assert.equal(res.choices[0]!.finish_reason, "stop");
  assert.equal(res.choices[0]!.message.content, full.slice(0, full.indexOf(stop)));

  const streamed = await server.client.chat.completions.create({ ...request, stop, stream: true });
  let text = "";
  for await (const c of streamed) text += c.choices[0]?.delta.content ?? "";
  assert.equal(text, full.slice(0, full.indexOf(stop)));
});

test("max_completion_tokens limits the answer like max_tokens", async () => {
  const res = await server.client.chat.completions.create({ model: server.model, messages, max_completion_tokens: 3, temperature: 0 });
  assert.equal(res.choices[0]!.finish_reason, "length");
  assert.equal(res.usage?.completion_tokens, 3);
});

test("the same seed gives the same sampled text", async () => {
  const request = { model: server.model, messages, max_tokens: 24, temperature: 1, top_p: 0.9, seed: 1234 };
  const a = await server.client.chat.completions.create(request);
  const b = await server.client.chat.completions.create(request);
  assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
});

test("a second request with the same prompt reuses its cached prefix", async () => {
  const request = { model: server.model, messages: [{ role: "user" as const, content: "A prompt that is only sent twice." }], max_tokens: 2, temperature: 0 };
  await server.client.chat.completions.create(request);
  const again = await server.client.chat.completions.create(request);
  const cached = (again.usage as { prompt_tokens_details?: { cached_tokens?: number } }).prompt_tokens_details?.cached_tokens;
  assert.equal(cached, again.usage!.prompt_tokens - 1);
});

test("a long sampled stream of random bytes stays well-formed and matches the same request unstreamed", async () => {
  // The tiny model emits random bytes, many of them pieces of multi-byte characters.
  const request = { model: server.model, messages, max_tokens: 200, temperature: 1, seed: 99 };
  const whole = await server.client.chat.completions.create(request);
  const stream = await server.client.chat.completions.create({ ...request, stream: true });
  let text = "";
  for await (const c of stream) {
    const delta = c.choices[0]?.delta.content ?? "";
    assert.equal(Buffer.from(delta, "utf8").toString("utf8"), delta, "a delta is valid UTF-8 on its own");
    text += delta;
  }
  assert.equal(text, whole.choices[0]!.message.content);
  assert.ok([...text].some((ch) => ch.codePointAt(0)! >= 0x80), "the sample exercised bytes above ASCII");
});

test("many requests at once all complete", async () => {
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    server.client.chat.completions.create({ model: server.model, messages: [{ role: "user", content: `request ${i}` }], max_tokens: 5, temperature: 0 })));
  assert.ok(results.every((r) => r.usage?.completion_tokens === 5 && r.choices[0]?.finish_reason === "length"));
});

test("a client that disconnects mid-stream frees its slot for the next request", async () => {
  // The server has 2 slots: if aborted streams kept theirs, the last request would wait forever.
  for (let round = 0; round < 2; round++) {
    const controller = new AbortController();
    const streams = await Promise.all([0, 1].map(() => server.client.chat.completions.create(
      { model: server.model, messages, max_tokens: 500, stream: true }, { signal: controller.signal })));
    await Promise.all(streams.map(async (s) => { for await (const _ of s) break; }));
    controller.abort();
  }
  const res = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 2 });
  assert.equal(res.usage?.completion_tokens, 2);
});
