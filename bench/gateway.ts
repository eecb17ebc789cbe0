/**
 * Hearth as a gateway in front of other Hearths (models served through `--upstream`): the latency
 * it adds per request (median and P99, against calling the upstream directly, in the same run), and
 * the throughput of 16 concurrent streams through two upstreams against one.
 *
 *   npm run bench:gateway -- [--requests 200] [--streams 16] [--tokens 64]
 *
 * Latency is measured on the generated tiny model (so that the gateway's share shows), throughput
 * on the bench model (so that the upstreams' compute dominates); each upstream has one llama.cpp
 * thread, so that two of them fit a 2-core machine beside the gateway (whose own work is HTTP only).
 */
import type { ChildProcess } from "node:child_process";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { cacheDir } from "../src/config/dataDir.ts";
import { ensureBenchModel, ensureGeneratedModel } from "./benchModel.ts";
import { startHearth, streamCompletion } from "./hearthProcess.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "200" },
    streams: { type: "string", default: "16" },
    tokens: { type: "string", default: "64" },
  },
});
const requests = Number(values.requests);
const streams = Number(values.streams);
const tokens = Number(values.tokens);
const tiny = await ensureGeneratedModel(join(cacheDir(), "models"), "tiny", 7, "f16");
const bench = await ensureBenchModel(join(cacheDir(), "models"));
const children: ChildProcess[] = [];
let started = 0;
const start = async (args: string[], ready: "model" | "listening" = "model") => {
  const h = await startHearth(args, { HEARTH_DATA_DIR: `/tmp/hearth-bench-gateway-${started++}` }, ready);
  children.push(h.child);
  return h.url;
};
const upstream = (model: string) => start(["--model", model, "--model-name", "m", "--threads", "1", "--slots", String(streams), "--ctx-size", "256"]);
const gateway = (urls: string[]) => start(urls.flatMap((u) => ["--upstream", `${u}/v1`]).concat(["--model-name", "m"]), "listening");

try {
  const [u, b1, b2] = await Promise.all([upstream(tiny), upstream(bench), upstream(bench)]);
  const [g, g1, g2] = await Promise.all([gateway([u]), gateway([b1]), gateway([b1, b2])]);

  // Latency: one request at a time, the same requests to the upstream and through the gateway,
  // interleaved so that both see the same machine.
  const direct: number[] = [];
  const through: number[] = [];
  // Prompts differ from their first token on, so that no request reuses another's KV cells.
  const body = (path: string, i: number) => ({ model: "m", prompt: `${path} ${i}: tell me about the fire.`, max_tokens: 8, temperature: 0 });
  for (let i = 0; i < 10; i++) await Promise.all([streamCompletion(u, body("Warm", i)), streamCompletion(g, body("Up", i))]);
  for (let i = 0; i < requests; i++) {
    direct.push((await streamCompletion(u, body("Direct", i))).e2eMs);
    through.push((await streamCompletion(g, body("Through", i))).e2eMs);
  }

  // Throughput: `streams` concurrent streams, a few rounds, through one upstream and through two.
  const throughput = async (url: string) => {
    const t0 = performance.now();
    let generated = 0;
    for (let round = 0; round < 3; round++) {
      const done = await Promise.all(Array.from({ length: streams }, (_, i) => streamCompletion(url, { model: "m", prompt: `Round ${round} stream ${i} ${url}`, max_tokens: tokens, temperature: 1, seed: i })));
      generated += done.reduce((n, r) => n + r.completionTokens, 0);
    }
    return generated / ((performance.now() - t0) / 1000);
  };
  const one = await throughput(g1);
  const two = await throughput(g2);

  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  const row = (name: string, xs: number[]) => `| ${name} | ${pct(xs, 0.5).toFixed(2)} | ${pct(xs, 0.99).toFixed(2)} |`;
  console.log(`\nLatency of one streamed request (${requests} each, 8 tokens, ms)\n`);
  console.log("| path | P50 | P99 |\n|---|---|---|");
  console.log(row("upstream directly", direct));
  console.log(row("through the gateway", through));
  console.log(`| added by the gateway | ${(pct(through, 0.5) - pct(direct, 0.5)).toFixed(2)} | ${(pct(through, 0.99) - pct(direct, 0.99)).toFixed(2)} |`);
  console.log(`\nThroughput through the gateway, ${streams} concurrent streams x ${tokens} tokens, 3 rounds (tok/s)\n`);
  console.log("| upstreams | tok/s | ratio |\n|---|---|---|");
  console.log(`| 1 | ${one.toFixed(1)} | 1.00 |`);
  console.log(`| 2 | ${two.toFixed(1)} | ${(two / one).toFixed(2)} |`);
} finally {
  for (const c of children) c.kill("SIGTERM");
}
