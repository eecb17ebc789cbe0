import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { testModel } from "../helpers/models.ts";
import { waitUntil } from "../helpers/wait.ts";

let server: TestServer;
before(async () => {
  // F16, not the default Q8_0: on AVX-512 machines llama.cpp's Q8_0 kernels give slightly different
  // logits for the same sequence in different batch compositions, enough to flip a random model's
  // greedy choice; the F16 path gives identical results, so equal texts here mean unmixed tokens.
  server = await startServer({ modelPath: await testModel("tiny", 7, "f16"), config: { inference: { context_length: 512 }, batching: { max_batch_size: 32, max_queue: 64, prefix_reuse_min_tokens: 32 } } });
});
after(() => server.close());

interface Slots { queue_depth: number; data: { state: string; cached_tokens: number }[] }
const slots = async (s: TestServer) => (await (await fetch(`${s.url}/v1/slots`)).json()) as Slots;
const allIdle = async (s: TestServer) => {
  const snap = await slots(s);
  return snap.queue_depth === 0 && snap.data.every((d) => d.state === "idle");
};

async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return {
    chunks,
    text: chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
    finish: chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean),
    usage: chunks.at(-1)?.usage,
  };
}

const ask = (i: number) => [{ role: "user" as const, content: `Question number ${i}: tell me something different.` }];

test("32 concurrent streams complete, well-formed, each with its own usage", async () => {
  const results = await Promise.all(Array.from({ length: 32 }, async (_, i) => {
    const max = 8 + (i % 9);
    const stream = await server.client.chat.completions.create({ model: server.model, messages: ask(i), max_tokens: max, temperature: 0.8, seed: i, stream: true, stream_options: { include_usage: true } });
    return { i, max, ...(await collect(stream)) };
  }));
  for (const r of results) {
    const first = r.chunks[0]!;
    assert.equal(first.choices[0]?.delta.role, "assistant", `stream ${r.i} opens with the role`);
    assert.ok(r.chunks.every((c) => c.id === first.id), `stream ${r.i} keeps one id`);
    assert.equal(r.finish.length, 1, `stream ${r.i} finishes once`);
    assert.ok(r.usage, `stream ${r.i} ends with usage`);
    if (r.finish[0] === "length") assert.equal(r.usage.completion_tokens, r.max, `stream ${r.i} ran to max_tokens`);
    else assert.ok(r.usage.completion_tokens <= r.max, `stream ${r.i} stopped early, within max_tokens`);
  }
  assert.equal(new Set(results.map((r) => r.chunks[0]!.id)).size, 32, "every stream has its own id");
  await waitUntil(() => allIdle(server), "every slot is idle again");
});

test("concurrent requests never mix their tokens: each matches its own greedy run alone and its own stop", async () => {
  const requests = Array.from({ length: 12 }, (_, i) => ({ model: server.model, messages: ask(100 + i), max_tokens: 12 + i * 3, temperature: 0 }));
  const alone: string[] = [];
  for (const r of requests) alone.push((await server.client.chat.completions.create(r)).choices[0]!.message.content!);
  // The same requests at once, each with a stop string taken from its own text (or none).
  const withStops = requests.map((r, i) => {
    const text = alone[i]!;
    const at = Math.floor(text.length / 2);
    const stop = i % 2 === 0 && !text.slice(at, at + 2).includes("\uFFFD") && text.slice(at, at + 2).length === 2 ? text.slice(at, at + 2) : undefined;
    return { ...r, ...(stop ? { stop } : {}) };
  });
  const together = await Promise.all(withStops.map((r) => server.client.chat.completions.create(r)));
  together.forEach((res, i) => {
    const stop = withStops[i]!.stop;
    const expected = stop ? alone[i]!.slice(0, alone[i]!.indexOf(stop)) : alone[i]!;
    assert.equal(res.choices[0]!.message.content, expected, `request ${i} got its own text`);
    if (!stop) assert.equal(res.usage?.completion_tokens, requests[i]!.max_tokens);
  });
});

test("a request sharing a long prefix with a finished one evaluates only the rest of its prompt", async () => {
  const system = { role: "system" as const, content: "You are Hearth's test assistant. ".repeat(4) };
  const first = await server.client.chat.completions.create({ model: server.model, messages: [system, { role: "user", content: "first question" }], max_tokens: 3 });
  const second = await server.client.chat.completions.create({ model: server.model, messages: [system, { role: "user", content: "second question" }], max_tokens: 3 });
  const cached = (u: OpenAI.CompletionUsage | undefined) => (u as { prompt_tokens_details?: { cached_tokens?: number } } | undefined)?.prompt_tokens_details?.cached_tokens ?? 0;
  const sharedBytes = Buffer.byteLength(system.content) + 20; // BOS, the system turn and the start of the user turn
  assert.ok(cached(second.usage) >= sharedBytes, `cached ${cached(second.usage)} of ${second.usage?.prompt_tokens} prompt tokens`);
  assert.ok(cached(first.usage) < sharedBytes);
});

test("a client that disconnects mid-stream frees its slot", async () => {
  const controller = new AbortController();
  const stream = await server.client.chat.completions.create({ model: server.model, messages: ask(7), max_tokens: 400, temperature: 0, stream: true }, { signal: controller.signal });
  for await (const _ of stream) break;
  assert.ok((await slots(server)).data.some((d) => d.state === "decoding"));
  controller.abort();
  await waitUntil(() => allIdle(server), "the aborted request's slot is idle");
});

test("after 100 cancelled requests, slots, queue and memory are back to idle", async () => {
  const pid = server.hearth.router.runner("tiny")!.pid!;
  const rss = async () => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;
  const before = await rss();
  for (let round = 0; round < 10; round++) {
    const controller = new AbortController();
    await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const stream = await server.client.chat.completions.create({ model: server.model, messages: ask(round * 10 + i), max_tokens: 300, stream: true }, { signal: controller.signal });
      if (i % 2 === 0) for await (const _ of stream) break; // half are cancelled mid-stream, half right after being accepted
    }));
    controller.abort();
  }
  await waitUntil(() => allIdle(server), "all slots idle and the queue empty");
  assert.equal(server.hearth.router.runner("tiny")!.inFlight, 0, "the server holds no request state");
  const grown = (await rss()) - before;
  assert.ok(grown < 64 * 1024 * 1024, `runner memory grew by ${(grown / 1048576).toFixed(1)} MiB`);
  const res = await server.client.chat.completions.create({ model: server.model, messages: ask(1), max_tokens: 2 });
  assert.equal(res.usage?.completion_tokens, 2);
});

test("a full queue answers 429 with Retry-After at once while accepted requests finish", async () => {
  const small = await startServer({ config: { batching: { max_batch_size: 2, max_queue: 2 }, inference: { context_length: 4096 } } });
  try {
    // Stream creation resolves when the response headers arrive, that is once a request is accepted.
    // Long and greedy: none of them can finish (or sample an end token) before the fifth arrives.
    const accepted = await Promise.all(Array.from({ length: 4 }, (_, i) =>
      small.client.chat.completions.create({ model: small.model, messages: ask(i), max_tokens: 600, temperature: 0, stream: true })));
    const refused = await post(`${small.url}/v1/chat/completions`, { model: small.model, messages: ask(9), max_tokens: 5 });
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error?.code, "server_overloaded");
    assert.equal(refused.json.error?.type, "rate_limit_error");
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    const done = await Promise.all(accepted.map(collect));
    assert.ok(done.every((d) => d.finish.length === 1 && d.text.length >= 0));
  } finally {
    await small.close();
  }
});

test("requests that run out of time, running or waiting, get a clear error and free their slot", async () => {
  const slow = await startServer({ config: { batching: { max_batch_size: 1, timeout_ms: 150 }, inference: { context_length: 4096 } } });
  try {
    // Greedy, so that no sampled end-of-turn token can end the long request before its deadline.
    const running = await slow.client.chat.completions.create({ model: slow.model, messages: ask(1), max_tokens: 4000, temperature: 0, stream: true });
    // Queued behind it; its deadline counts from arrival (the scheduler's unit test pins that exactly).
    const waiting = await slow.client.chat.completions.create({ model: slow.model, messages: ask(2), max_tokens: 4000, temperature: 0, stream: true });
    for (const stream of [running, waiting]) {
      await assert.rejects(collect(stream), (e: unknown) => e instanceof OpenAI.APIError && /timeout/.test(e.message) && (e.error as { code?: string }).code === "request_timeout");
    }
    await waitUntil(() => allIdle(slow), "the timed-out slot is idle");
    const unary = await post(`${slow.url}/v1/chat/completions`, { model: slow.model, messages: ask(3), max_tokens: 4000, temperature: 0 });
    assert.equal(unary.status, 504);
    assert.equal(unary.json.error?.code, "request_timeout");
  } finally {
    await slow.close();
  }
});

test("a runner killed with SIGKILL mid-stream gives its clients a clean error, restarts, and serves the next request", async () => {
  const streams = await Promise.all([0, 1].map((i) => server.client.chat.completions.create({ model: server.model, messages: ask(i), max_tokens: 400, temperature: 0, stream: true })));
  const iterators = streams.map((s) => s[Symbol.asyncIterator]());
  for (const it of iterators) await it.next();
  const pid = server.hearth.router.runner("tiny")!.pid!;
  process.kill(pid, "SIGKILL");
  for (const it of iterators) {
    await assert.rejects(
      (async () => { for (let r = await it.next(); !r.done; r = await it.next()); })(),
      (e: unknown) => e instanceof OpenAI.APIError && (e.error as { code?: string }).code === "runner_crashed",
    );
  }
  const during = await fetch(`${server.url}/health`);
  assert.equal(during.status, 503, "health says the model is not ready while the runner restarts");
  await server.hearth.router.load("tiny");
  assert.notEqual(server.hearth.router.runner("tiny")!.pid, pid);
  const res = await server.client.chat.completions.create({ model: server.model, messages: ask(3), max_tokens: 4 });
  assert.equal(res.usage?.completion_tokens, 4);
});

test("context_total splits the context evenly between slots, and the per-slot size is what a request must fit", async () => {
  const split = await startServer({ config: { batching: { max_batch_size: 4 }, inference: { context_total: 1024 } } });
  try {
    const tooLong = await post(`${split.url}/v1/completions`, { model: split.model, prompt: "x".repeat(300) });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.json.error?.code, "context_length_exceeded");
    assert.match(tooLong.json.error!.message, /maximum context length is 256 tokens/);
    const fits = await post(`${split.url}/v1/completions`, { model: split.model, prompt: "x".repeat(200), max_tokens: 10 });
    assert.equal(fits.status, 200);
    assert.equal((await slots(split)).data.length, 4);
  } finally {
    await split.close();
  }
});
