/**
 * Continuous batching on the `bench` model: aggregate output tokens/s and TTFT at several
 * concurrencies, against (a) one request at a time through Hearth and (b) node-llama-cpp driving
 * the same number of sequences directly, each with its own evaluate() loop, in the same run.
 *
 *   npm run bench:scheduler -- [--concurrency 1,4,8,16,32] [--tokens 64] [--rounds 3] [--threads 2]
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cacheDir } from "../src/config/dataDir.ts";
import { ensureBenchModel } from "./benchModel.ts";
import { startHearth, streamCompletion } from "./hearthProcess.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    concurrency: { type: "string", default: "1,4,8,16,32" },
    tokens: { type: "string", default: "64" },
    rounds: { type: "string", default: "3" },
    threads: { type: "string", default: "2" },
    "skip-naive": { type: "boolean", default: false },
    "skip-prefix": { type: "boolean", default: false },
  },
});
const tokens = Number(values.tokens);
const rounds = Number(values.rounds);
const threads = Number(values.threads);
const levels = values.concurrency!.split(",").map(Number);
const maxSlots = Math.max(...levels);
const CTX = 2048;
const modelPath = values.model ?? await ensureBenchModel(join(cacheDir(), "models"));

const BASE = "Describe the hearth of an old farmhouse in winter, the people around it and what they talk about.";
let serial = 0;
/** Distinct prompts (their first tokens differ), so no request reuses another's KV cache. */
const prompt = () => `Request ${++serial}. ${BASE}`;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

interface Run { tps: number; p50: number; p95: number; requests: number; wallMs: number }

function summarize(wallMs: number, reqs: { ttftMs: number; tokens: number }[]): Run {
  const total = reqs.reduce((n, r) => n + r.tokens, 0);
  const ttfts = reqs.map((r) => r.ttftMs);
  return { tps: total / (wallMs / 1000), p50: pct(ttfts, 50), p95: pct(ttfts, 95), requests: reqs.length, wallMs };
}

// ---------- Hearth ----------
async function request(url: string, text: string, maxTokens = tokens): Promise<{ ttftMs: number; tokens: number }> {
  const r = await streamCompletion(url, { model: "bench", prompt: text, max_tokens: maxTokens, temperature: 0 });
  return { ttftMs: r.ttftMs, tokens: r.completionTokens };
}

interface Steps { count: number; total_ms: number; decoded_tokens: number; prompt_tokens: number }
const steps = async (url: string) => ((await (await fetch(`${url}/v1/slots`)).json()) as { models: { steps: Steps }[] }).models[0]!.steps;

async function runHearth(url: string, concurrency: number): Promise<Run & { stepMs: number; perStep: number }> {
  const before = await steps(url);
  const t0 = performance.now();
  const reqs: { ttftMs: number; tokens: number }[] = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let r = 0; r < rounds; r++) reqs.push(await request(url, prompt()));
  }));
  const wall = performance.now() - t0;
  const after = await steps(url);
  const n = after.count - before.count;
  return { ...summarize(wall, reqs), stepMs: (after.total_ms - before.total_ms) / n, perStep: (after.decoded_tokens - before.decoded_tokens) / n };
}

// ---------- naive node-llama-cpp ----------
async function startNaive(slots: number): Promise<{ child: ChildProcess; run(concurrency: number): Promise<Run> }> {
  const child = fork(new URL("./naiveWorker.ts", import.meta.url), [modelPath, String(threads), String(CTX), String(slots)]);
  await once(child, "message");
  return {
    child,
    async run(concurrency) {
      const prompts = Array.from({ length: concurrency }, () => Array.from({ length: rounds }, prompt));
      child.send({ prompts, tokens });
      const [msg] = (await once(child, "message")) as [{ wallMs: number; requests: { ttftMs: number; tokens: number }[] }];
      return summarize(msg.wallMs, msg.requests);
    },
  };
}

// ---------- run ----------
const hearth = await startHearth(["--model", modelPath, "--model-name", "bench", "--threads", String(threads), "--ctx-size", String(CTX), "--slots", String(maxSlots)]);
await request(hearth.url, prompt(), 8); // warm-up
const oneAtATime = await runHearth(hearth.url, 1);
const rows: string[] = [];
for (const c of levels) {
  const h = await runHearth(hearth.url, c);
  let naiveCell = "-";
  let ratioCell = "-";
  let naiveTtft = "-";
  if (!values["skip-naive"]) {
    const naive = await startNaive(c);
    await naive.run(1); // warm-up
    const n = await naive.run(c);
    naive.child.kill();
    await once(naive.child, "exit");
    naiveCell = n.tps.toFixed(1);
    ratioCell = (h.tps / n.tps).toFixed(2);
    naiveTtft = `${n.p50.toFixed(0)} / ${n.p95.toFixed(0)}`;
  }
  rows.push(`| ${c} | ${h.requests} | ${h.tps.toFixed(1)} | ${(h.tps / oneAtATime.tps).toFixed(2)} | ${naiveCell} | ${ratioCell} | ${h.p50.toFixed(0)} / ${h.p95.toFixed(0)} | ${naiveTtft} | ${h.stepMs.toFixed(1)} | ${h.perStep.toFixed(1)} |`);
}

let prefixLine = "";
if (!values["skip-prefix"]) {
  // A ~1,500-token shared system prompt: the second request reuses the first one's KV cells.
  const system = Array.from({ length: 120 }, (_, i) => `Rule ${i + 1}: keep the fire lit and the door shut.`).join(" ");
  const first = await request(hearth.url, `${system}\nQuestion: what is rule one?`, 8);
  const second = await request(hearth.url, `${system}\nQuestion: what is rule two?`, 8);
  prefixLine = `Shared ~1,500-token system prompt: TTFT first request ${first.ttftMs.toFixed(0)} ms, second request ${second.ttftMs.toFixed(0)} ms (${(first.ttftMs / second.ttftMs).toFixed(1)}x faster).`;
}
hearth.child.kill("SIGTERM");
await once(hearth.child, "exit");

console.log(`\nbench model, ${threads} threads, ${tokens} output tokens per request, ${rounds} requests per client (closed loop), ${maxSlots} slots`);
console.log(`(a) one request at a time through Hearth: ${oneAtATime.tps.toFixed(1)} tok/s\n`);
console.log("| concurrency | requests | Hearth tok/s | vs (a) one at a time | (b) naive tok/s | Hearth / (b) | Hearth TTFT P50 / P95 ms | (b) TTFT P50 / P95 ms | Hearth ms per step | decodes per step |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
if (prefixLine) console.log(`\n${prefixLine}`);
