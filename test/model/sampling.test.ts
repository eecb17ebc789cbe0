import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { testModel } from "../helpers/models.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
before(async () => { server = await startServer(); });
after(() => server.close());

const messages = [{ role: "user" as const, content: "Tell me about hearths." }];

async function tokenize(content: string): Promise<number[]> {
  const res = await post(`${server.url}/tokenize`, { content, model: server.model, add_special: false });
  assert.equal(res.status, 200);
  return (res.json as unknown as { tokens: number[] }).tokens;
}

async function complete(body: Record<string, unknown>) {
  const res = await post(`${server.url}/v1/completions`, { model: server.model, prompt: "Once upon a time", temperature: 0, ...body });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json as unknown as { choices: { index: number; text: string; finish_reason: string; logprobs: null | { tokens: string[]; token_logprobs: number[]; top_logprobs: Record<string, number>[]; text_offset: number[] } }[]; usage: { prompt_tokens: number; completion_tokens: number } };
}

test("logit_bias +100 makes a greedy request emit the token; -100 on the greedy first token changes it", async () => {
  const [q] = await tokenize("Q");
  const forced = await complete({ max_tokens: 4, logit_bias: { [String(q)]: 100 } });
  assert.equal(forced.choices[0]!.text, "QQQQ");

  // The tiny model has one token per byte, whose id is the byte.
  const first = async (logit_bias?: Record<string, number>) => {
    const res = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 1, temperature: 0, logprobs: true, ...(logit_bias ? { logit_bias } : {}) });
    const bytes = res.choices[0]!.logprobs!.content![0]!.bytes!;
    assert.equal(bytes.length, 1);
    return bytes[0]!;
  };
  const greedy = await first();
  const banned = await first({ [String(greedy)]: -100 });
  assert.notEqual(banned, greedy);

  // Chat too.
  const chat = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 3, temperature: 0, logit_bias: { [String(q)]: 100 } });
  assert.equal(chat.choices[0]!.message.content, "QQQ");
});

test("logit_bias out of the vocabulary, out of range or too large is a 400 naming logit_bias", async () => {
  for (const logit_bias of [{ "99999999": 1 }, { "5": 101 }, { "-1": 1 }, { abc: 1 }, Object.fromEntries(Array.from({ length: 301 }, (_, i) => [String(i), 1]))]) {
    const res = await post(`${server.url}/v1/chat/completions`, { model: server.model, messages, max_tokens: 1, logit_bias });
    assert.equal(res.status, 400, JSON.stringify(logit_bias).slice(0, 40));
    assert.match(res.json.error!.param ?? "", /^logit_bias/);
  }
});

test("presence and frequency penalties count the whole completion", async () => {
  // The tiny model has one token per byte: a token's bytes name it.
  const distinct = async (extra: object) => {
    const res = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 400, temperature: 0, logprobs: true, ...extra });
    const tokens = res.choices[0]!.logprobs!.content!.map((t) => JSON.stringify(t.bytes));
    assert.equal(tokens.length, 400);
    return new Set(tokens).size;
  };
  const plain = await distinct({});
  const presence = await distinct({ presence_penalty: 2 });
  const frequency = await distinct({ frequency_penalty: 2 });
  assert.ok(presence > 2 * plain, `presence_penalty: ${presence} distinct tokens of 400, ${plain} without`);
  // Measured: 230 distinct tokens when every token of the completion counts, 128 when only the last 64 do.
  assert.ok(frequency > 180, `frequency_penalty: ${frequency} distinct tokens of 400, ${plain} without`);
});

test("chat logprobs: sorted top lists, the chosen token's logprob in them, probabilities that sum to at most 1", async () => {
  const check = (content: { token: string; logprob: number; bytes: number[] | null; top_logprobs: { token: string; logprob: number; bytes: number[] | null }[] }[], top: number) => {
    assert.ok(content.length > 0);
    for (const t of content) {
      assert.ok(t.logprob <= 0);
      assert.ok(Array.isArray(t.bytes));
      assert.equal(t.top_logprobs.length, top);
      for (let i = 1; i < t.top_logprobs.length; i++) assert.ok(t.top_logprobs[i - 1]!.logprob >= t.top_logprobs[i]!.logprob);
      assert.ok(t.top_logprobs.every((a) => a.logprob <= 0));
      assert.ok(t.top_logprobs.reduce((n, a) => n + Math.exp(a.logprob), 0) <= 1 + 1e-6);
      const same = t.top_logprobs.find((a) => a.token === t.token && JSON.stringify(a.bytes) === JSON.stringify(t.bytes));
      if (same) assert.equal(same.logprob, t.logprob);
    }
  };
  const greedy = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 5 });
  const content = greedy.choices[0]!.logprobs!.content!;
  check(content as never, 5);
  assert.equal(content.length, 12);
  // Greedy: the chosen token is the most likely one.
  for (const t of content) assert.equal(t.logprob, t.top_logprobs[0]!.logprob);
  // The bytes decode to the text, save a character cut short by max_tokens: left out of the text, its bytes still reported.
  const decoded = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(content.flatMap((t) => t.bytes!)), { stream: true });
  assert.equal(decoded, greedy.choices[0]!.message.content);

  const sampled = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 12, temperature: 1, seed: 5, logprobs: true, top_logprobs: 20 });
  check(sampled.choices[0]!.logprobs!.content as never, 20);

  const stream = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 2, stream: true });
  const streamed = [];
  for await (const c of stream) streamed.push(...(c.choices[0]?.logprobs?.content ?? []));
  check(streamed as never, 2);
  assert.deepEqual(streamed.map((t) => t.token), content.map((t) => t.token));

  const none = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 2, temperature: 0 });
  assert.equal(none.choices[0]!.logprobs, null);
});

test("completions logprobs: OpenAI's legacy shape", async () => {
  const res = await complete({ max_tokens: 8, logprobs: 3 });
  const lp = res.choices[0]!.logprobs!;
  assert.equal(lp.tokens.length, 8);
  assert.equal(lp.token_logprobs.length, 8);
  assert.equal(lp.top_logprobs.length, 8);
  assert.deepEqual(lp.text_offset, lp.tokens.map((_, i) => lp.tokens.slice(0, i).join("").length));
  for (let i = 0; i < 8; i++) {
    assert.ok(lp.token_logprobs[i]! <= 0);
    const top = Object.values(lp.top_logprobs[i]!);
    assert.ok(top.length >= 1 && top.length <= 3);
    assert.ok(top.reduce((n, x) => n + Math.exp(x), 0) <= 1 + 1e-6);
  }
});

test("logprobs over the limits are 400s naming the field", async () => {
  const chat = await post(`${server.url}/v1/chat/completions`, { model: server.model, messages, max_tokens: 1, logprobs: true, top_logprobs: 21 });
  assert.equal(chat.status, 400);
  assert.equal(chat.json.error!.param, "top_logprobs");
  const needs = await post(`${server.url}/v1/chat/completions`, { model: server.model, messages, max_tokens: 1, top_logprobs: 2 });
  assert.equal(needs.status, 400);
  assert.equal(needs.json.error!.param, "top_logprobs");
  const legacy = await post(`${server.url}/v1/completions`, { model: server.model, prompt: "x", max_tokens: 1, logprobs: 6 });
  assert.equal(legacy.status, 400);
  assert.equal(legacy.json.error!.param, "logprobs");
});

test("n: 3 returns three choices with their indices, completion tokens summed and the prompt counted once", async () => {
  const one = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 5, temperature: 1, seed: 3 });
  const res = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 5, temperature: 1, seed: 3, n: 3 });
  assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2]);
  assert.ok(res.choices.every((c) => c.finish_reason === "length" && typeof c.message.content === "string"));
  assert.equal(res.usage!.completion_tokens, 15);
  assert.equal(res.usage!.prompt_tokens, one.usage!.prompt_tokens);
  assert.ok(new Set(res.choices.map((c) => c.message.content)).size > 1, "seed + i makes the choices differ");

  const stream = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 5, temperature: 1, seed: 3, n: 3, stream: true, stream_options: { include_usage: true } });
  const texts = ["", "", ""];
  const finishes: number[] = [];
  let usage;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      texts[ch.index] += ch.delta.content ?? "";
      if (ch.finish_reason) finishes.push(ch.index);
    }
  }
  assert.deepEqual(finishes.sort(), [0, 1, 2]);
  assert.deepEqual(texts, res.choices.map((c) => c.message.content));
  assert.equal(usage!.completion_tokens, 15);
  assert.equal(usage!.prompt_tokens, one.usage!.prompt_tokens);

  const text = await complete({ max_tokens: 4, n: 2 });
  assert.deepEqual(text.choices.map((c) => c.index), [0, 1]);
  assert.equal(text.usage.completion_tokens, 8);

  const tooMany = await post(`${server.url}/v1/chat/completions`, { model: server.model, messages, max_tokens: 1, n: 9 });
  assert.equal(tooMany.status, 400);
  assert.equal(tooMany.json.error!.param, "n");
});

test("n with a forced tool call constrains each choice", async () => {
  const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string", maxLength: 8 } }, required: ["city"], additionalProperties: false } } }];
  const res = await server.client.chat.completions.create({ model: server.model, messages, max_tokens: 60, temperature: 1, seed: 1, n: 2, tools, tool_choice: { type: "function", function: { name: "get_weather" } } });
  assert.equal(res.choices.length, 2);
  for (const c of res.choices) {
    assert.equal(c.finish_reason, "tool_calls");
    const call = c.message.tool_calls![0]! as { function: { name: string; arguments: string } };
    assert.equal(call.function.name, "get_weather");
    assert.equal(typeof JSON.parse(call.function.arguments).city, "string");
  }
});

test("the same seed gives the same text at temperature 1, another seed another text (F16 model)", async () => {
  const f16 = await startServer({ modelPath: await testModel("tiny", 7, "f16") });
  try {
    const request = { model: f16.model, messages, max_tokens: 24, temperature: 1, top_k: 0, seed: 42 };
    const a = await f16.client.chat.completions.create(request);
    const b = await f16.client.chat.completions.create(request);
    assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
    const c = await f16.client.chat.completions.create({ ...request, seed: 43 });
    assert.notEqual(c.choices[0]!.message.content, a.choices[0]!.message.content);
  } finally {
    await f16.close();
  }
});
