import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import type { StatsJson } from "../../src/metrics/Metrics.ts";

/**
 * `hearth monitor` with stdin not a terminal (a pipe, a service, `< /dev/null`): it cannot read
 * keys, but still draws the dashboard instead of crashing on raw mode.
 */
const hearth = new URL("../../bin/hearth.js", import.meta.url).pathname;
const p = { p50: 1, p90: 2, p95: 2, p99: 3, max: 4, count: 5 };
const model = { id: "twin", state: "loaded", context_size: 1024, rss_bytes: 0, slots_busy: 0, slots_total: 2, waiting: 0 };
const stats: StatsJson = {
  window_seconds: 60, requests_per_second: 1, generations_per_second: 1, output_tokens_per_second: 1, prompt_tokens_per_second: 1,
  error_rate: 0, errors_by_code: {}, ttft_ms: p, e2e_ms: p, tpot_ms: p, queue_ms: p, running: 0, waiting: 0, slots_busy: 0, slots_total: 2,
  kv_cache_usage_ratio: 0, models: [model, { ...model, state: "available" }], process_rss_bytes: 0,
  totals: { requests: 1, errors: 0, generations: 1, prompt_tokens: 1, completion_tokens: 1 }, history: [],
};
// A /v1/stats that lists one id twice, as the duplicate-key warning needs.
const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats))).listen(0, "127.0.0.1");
await once(server, "listening");
after(() => server.close());

test("hearth monitor with stdin not a terminal draws the dashboard, without raw-mode errors or duplicate-key warnings", { timeout: 30_000 }, async () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const env = { ...process.env };
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  const child = spawn(process.execPath, [hearth, "monitor", "--url", url, "--interval", "200"], { stdio: ["pipe", "pipe", "pipe"], env });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => { err += d; });
  const exited = once(child, "exit");
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => { out += d; if (/twin\s+available/.test(out)) resolve(); });
      void exited.then(() => reject(new Error(`the monitor exited; stderr:\n${err}`)));
    });
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
  assert.match(out, /Throughput/);
  assert.match(out, /Ctrl-C to quit/);
  assert.doesNotMatch(err, /Raw mode|same key/i);
});
