import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FinishedRequest } from "../../src/engine/types.ts";
import { tinyChatPromptTokens } from "../helpers/prompts.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";

let server: TestServer;
const finished: FinishedRequest[] = [];
before(async () => {
  server = await startServer({ config: { inference: { context_length: 4096 }, batching: { timeout_ms: 800 } } });
  server.hearth.router.onFinished((r) => finished.push(r));
});
after(() => server.close());

const messages = [{ role: "user" as const, content: "keep talking" }];

test("a completed request is reported once, with its usage and reason", async () => {
  finished.length = 0;
  const res = await server.client.chat.completions.create({ model: "tiny", messages, max_tokens: 5, temperature: 0 });
  await waitUntil(() => finished.length === 1, "the request is reported");
  const [r] = finished;
  assert.equal(r!.reason, "length");
  assert.equal(r!.accepted, true);
  assert.deepEqual(r!.usage, { promptTokens: res.usage!.prompt_tokens, completionTokens: 5, cachedPromptTokens: res.usage!.prompt_tokens_details!.cached_tokens! });
  assert.ok(r!.ttftMs !== null && r!.ttftMs <= r!.e2eMs);
});

test("a client that goes away mid-stream: its request ends as cancelled, with the tokens it used", async () => {
  finished.length = 0;
  const controller = new AbortController();
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
    body: JSON.stringify({ model: "tiny", messages, max_tokens: 900, temperature: 0, stream: true }),
  });
  const reader = res.body!.getReader();
  let received = "";
  while ((received.match(/"content":"[^"]/g) ?? []).length < 3) received += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  await waitUntil(() => finished.length === 1, "the cancelled request is reported");
  const [r] = finished;
  assert.equal(r!.reason, "cancelled");
  assert.equal(r!.usage.promptTokens, tinyChatPromptTokens(messages));
  assert.ok(r!.usage.completionTokens >= 3 && r!.usage.completionTokens < 900, `completion tokens so far: ${r!.usage.completionTokens}`);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /hearth_requests_finished_total\{model="tiny",reason="cancelled"\} 1/);
});

test("a request that runs out of time ends as timeout with its usage, and the client gets a 504", async () => {
  finished.length = 0;
  const res = await post(`${server.url}/v1/chat/completions`, { model: "tiny", messages, max_tokens: 4000, temperature: 0, stop: ["\u0000never"] });
  assert.equal(res.status, 504);
  assert.equal(res.json.error?.code, "request_timeout");
  await waitUntil(() => finished.length === 1, "the timed-out request is reported");
  assert.equal(finished[0]!.reason, "timeout");
  assert.equal(finished[0]!.error?.code, "request_timeout");
  assert.ok(finished[0]!.usage.completionTokens > 0);
});

test("a refused request is reported too, as not accepted", async () => {
  finished.length = 0;
  assert.equal((await post(`${server.url}/v1/chat/completions`, { model: "nobody", messages })).status, 404);
  await waitUntil(() => finished.length === 1, "the refusal is reported");
  assert.deepEqual([finished[0]!.accepted, finished[0]!.reason, finished[0]!.error?.code], [false, "error", "model_not_found"]);
});

test("concurrent requests each end with exactly one report", async () => {
  finished.length = 0;
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => server.client.completions.create({ model: "tiny", prompt: `n${i}`, max_tokens: 3 + i })));
  await waitUntil(() => finished.length === 6, "six reports");
  assert.deepEqual(finished.map((r) => r.usage.completionTokens).sort(), results.map((r) => r.usage!.completion_tokens).sort());
  assert.equal(new Set(finished.map((r) => r.id)).size, 6);
});
