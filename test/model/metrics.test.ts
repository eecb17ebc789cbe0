import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import parsePrometheus from "parse-prometheus-text-format";
import { post, startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
before(async () => { server = await startServer(); });
after(() => server.close());

const messages = [{ role: "user" as const, content: "count me" }];
let completionTokens = 0;
let promptTokens = 0;

async function scrape() {
  const res = await fetch(`${server.url}/metrics`);
  assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
  return parsePrometheus(await res.text());
}

const value = (families: ReturnType<typeof parsePrometheus>, name: string, labels: Record<string, string> = {}) => {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `${name} is exported`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample;
};

/**
 * A histogram's buckets. parse-prometheus-text-format folds a histogram's label sets into one
 * entry and drops its labelled _count: there is one model here, and the +Inf bucket is the count.
 */
const histogram = (families: ReturnType<typeof parsePrometheus>, name: string) => {
  const family = families.find((f) => f.name === name);
  assert.equal(family?.type, "HISTOGRAM", `${name} is a histogram`);
  const buckets = family!.metrics[0]!.buckets!;
  return { buckets, count: Number(buckets["+Inf"]) };
};

test("requests of every kind are counted, and their timings are reported per response", async () => {
  for (let i = 0; i < 2; i++) {
    const r = await server.client.chat.completions.create({ model: "tiny", messages, max_tokens: 6 });
    completionTokens += r.usage!.completion_tokens;
    promptTokens += r.usage!.prompt_tokens;
  }
  const raw = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages, max_tokens: 4 }),
  });
  const body = (await raw.json()) as { usage: { completion_tokens: number; prompt_tokens: number }; timings: Record<string, number> };
  completionTokens += body.usage.completion_tokens;
  promptTokens += body.usage.prompt_tokens;
  assert.match(raw.headers.get("server-timing") ?? "", /queue;dur=[\d.]+, prompt;dur=[\d.]+;desc="\d+ evaluated, \d+ cached", generation;dur=[\d.]+/);
  assert.equal(body.timings.predicted_n, 4);
  assert.equal(body.timings.prompt_n! + body.timings.cache_n!, body.usage.prompt_tokens);
  for (const key of ["queue_ms", "prompt_ms", "predicted_ms", "predicted_per_second"]) assert.equal(typeof body.timings[key], "number", key);

  const stream = await server.client.completions.create({ model: "tiny", prompt: "abc", max_tokens: 5, stream: true, stream_options: { include_usage: true } });
  let streamedTimings: unknown;
  for await (const c of stream) {
    if (c.choices[0]?.finish_reason) streamedTimings = (c as unknown as { timings: unknown }).timings;
    if (c.usage) { completionTokens += c.usage.completion_tokens; promptTokens += c.usage.prompt_tokens; }
  }
  assert.equal((streamedTimings as { predicted_n: number }).predicted_n, 5, "the final chunk carries timings");

  assert.equal((await post(`${server.url}/v1/chat/completions`, { model: "tiny", messages, temperature: 9 })).status, 400);
  assert.equal((await post(`${server.url}/v1/chat/completions`, { model: "nobody", messages })).status, 404);

  const m = await scrape();
  assert.equal(value(m, "hearth_requests_total", { route: "/v1/chat/completions", model: "tiny", status: "200" })?.value, "3");
  assert.equal(value(m, "hearth_requests_total", { route: "/v1/completions", model: "tiny", status: "200" })?.value, "1");
  assert.equal(value(m, "hearth_requests_total", { route: "/v1/chat/completions", model: "tiny", status: "400" })?.value, "1");
  assert.equal(value(m, "hearth_requests_total", { route: "/v1/chat/completions", model: "other", status: "404" })?.value, "1", "unknown model names share one label");
  assert.equal(value(m, "hearth_request_errors_total", { code: "invalid_request" })?.value, "1");
  assert.equal(value(m, "hearth_request_errors_total", { code: "model_not_found" })?.value, "1");
  for (const h of ["hearth_time_to_first_token_seconds", "hearth_request_duration_seconds", "hearth_request_queue_seconds", "hearth_time_per_output_token_seconds"]) {
    assert.equal(histogram(m, h).count, 4, `${h} counts every generation`);
  }
  assert.equal(value(m, "hearth_generation_tokens_total", { model: "tiny" })?.value, String(completionTokens));
  assert.equal(value(m, "hearth_prompt_tokens_total", { model: "tiny" })?.value, String(promptTokens));
  assert.equal(value(m, "hearth_slots_total")?.value, "2");
  assert.equal(value(m, "hearth_models_loaded")?.value, "1");
  assert.equal(value(m, "hearth_requests_running")?.value, "0");
  assert.ok(Number(value(m, "hearth_runner_resident_memory_bytes")?.value) > 0);
  assert.ok(Number(value(m, "process_resident_memory_bytes")?.value) > 0);
});

test("/v1/stats percentiles agree with the /metrics histograms within a bucket", async () => {
  // More requests of varied length, so the percentiles have something to agree on.
  await Promise.all(Array.from({ length: 12 }, (_, i) => server.client.chat.completions.create({ model: "tiny", messages, max_tokens: 2 + i * 8 })));
  const stats = (await (await fetch(`${server.url}/v1/stats`)).json()) as Record<string, { count: number; p50: number; p95: number; p99: number }> & { slots_total: number; totals: { generations: number } };
  const m = await scrape();
  for (const [statKey, metric] of [["e2e_ms", "hearth_request_duration_seconds"], ["ttft_ms", "hearth_time_to_first_token_seconds"]] as const) {
    const h = histogram(m, metric);
    const count = h.count;
    assert.equal(stats[statKey]!.count, count);
    const bounds = Object.keys(h.buckets).filter((le) => le !== "+Inf").map(Number).sort((a, b) => a - b);
    for (const p of [0.5, 0.95, 0.99] as const) {
      const rank = Math.ceil(p * count);
      const upper = bounds.find((le) => Number(h.buckets[String(le)]) >= rank)!;
      const lower = bounds[bounds.indexOf(upper) - 1] ?? 0;
      const ours = stats[statKey]![`p${Math.round(p * 100)}` as "p50"] / 1000;
      assert.ok(ours > lower && ours <= upper, `${statKey} p${p * 100} ${ours}s lies in the histogram bucket (${lower}, ${upper}]`);
    }
  }
  assert.equal(stats.slots_total, 2);
  assert.equal(stats.totals.generations, 16);
});
