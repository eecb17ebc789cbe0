/**
 * Single-stream benchmark of the `bench` model: load time, decode tokens/s at 1 and 2 threads, and
 * Hearth's per-request overhead against node-llama-cpp driven directly, in the same run.
 *
 *   npm run bench:engine -- [--model bench.gguf] [--tokens 128] [--runs 5] [--threads 1,2]
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
    tokens: { type: "string", default: "128" },
    runs: { type: "string", default: "5" },
    threads: { type: "string", default: "1,2" },
    "hearth-env": { type: "string", multiple: true, default: [] },
  },
});
const hearthEnv = Object.fromEntries(values["hearth-env"]!.map((kv) => kv.split("=", 2) as [string, string]));
const tokens = Number(values.tokens);
const runs = Number(values.runs);
const modelPath = values.model ?? await ensureBenchModel(join(cacheDir(), "models"));
const CTX = 1024;
// A prompt of ordinary English (about 60 tokens in the Llama 3 vocabulary).
const prompt = "The hearth was the center of the home: people cooked there, kept warm there, and told stories late into the night. " +
  "Write a short description of a winter evening by the fire, with the sounds and smells of the room.";

// Each run starts with its own number, so that neither side can reuse the previous run's KV cache;
// both sides get the same prompt within a run, so their greedy texts must be equal.
let runNumber = 0;
const nextPrompt = () => `Run ${++runNumber}. ${prompt}`;

interface Result { e2eMs: number; ttftMs: number; decodeTps: number; tokens: number; promptTokens: number; text: string }

async function startDirect(threads: number): Promise<{ child: ChildProcess; loadMs: number; run(text: string): Promise<Result> }> {
  const t0 = performance.now();
  const child = fork(new URL("./directWorker.ts", import.meta.url), [modelPath, String(threads), String(CTX)], { env: { ...process.env, UV_THREADPOOL_SIZE: "1" } });
  await once(child, "message");
  return {
    child,
    loadMs: performance.now() - t0,
    async run(text) {
      child.send({ prompt: text, tokens });
      const [msg] = (await once(child, "message")) as [Result];
      return msg;
    },
  };
}

async function runHearth(url: string, text: string): Promise<Result> {
  const r = await streamCompletion(url, { model: "bench", prompt: text, max_tokens: tokens, temperature: 0 });
  return { e2eMs: r.e2eMs, ttftMs: r.ttftMs, decodeTps: (r.completionTokens - 1) / (r.decodeMs / 1000), tokens: r.completionTokens, promptTokens: r.promptTokens, text: r.text };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: string[] = [];
for (const threads of values.threads!.split(",").map(Number)) {
  const direct = await startDirect(threads);
  const hearth = await startHearth(["--model", modelPath, "--model-name", "bench", "--threads", String(threads), "--ctx-size", String(CTX), "--slots", "1"], hearthEnv);
  const d: Result[] = [];
  const h: Result[] = [];
  const warmUp = nextPrompt();
  await direct.run(warmUp);
  await runHearth(hearth.url, warmUp);
  for (let i = 0; i < runs; i++) {
    const text = nextPrompt();
    d.push(await direct.run(text));
    h.push(await runHearth(hearth.url, text));
  }
  d.forEach((r, i) => { if (r.text !== h[i]!.text) console.error(`warning: run ${i} texts differ at ${threads} threads`); });
  if (d[0]!.promptTokens !== h[0]!.promptTokens) console.error(`warning: prompt tokens differ (${d[0]!.promptTokens} vs ${h[0]!.promptTokens})`);
  const dm = { e2e: median(d.map((r) => r.e2eMs)), ttft: median(d.map((r) => r.ttftMs)), tps: median(d.map((r) => r.decodeTps)) };
  const hm = { e2e: median(h.map((r) => r.e2eMs)), ttft: median(h.map((r) => r.ttftMs)), tps: median(h.map((r) => r.decodeTps)) };
  rows.push(`| ${threads} | ${direct.loadMs.toFixed(0)} | ${hearth.readyMs.toFixed(0)} | ${dm.tps.toFixed(1)} | ${hm.tps.toFixed(1)} | ${(hm.tps / dm.tps).toFixed(2)} | ${dm.ttft.toFixed(1)} | ${hm.ttft.toFixed(1)} | ${dm.e2e.toFixed(0)} | ${hm.e2e.toFixed(0)} | ${(hm.e2e - dm.e2e).toFixed(1)} (${(((hm.e2e - dm.e2e) / dm.e2e) * 100).toFixed(1)}%) |`);
  direct.child.kill();
  hearth.child.kill("SIGTERM");
  await Promise.all([once(direct.child, "exit"), once(hearth.child, "exit")]);
}

console.log(`\nbench model ${modelPath}, ${tokens} output tokens, greedy, median of ${runs} runs, direct and Hearth alternating\n`);
console.log("| threads | load ms (direct) | load ms (Hearth, to ready) | decode tok/s direct | decode tok/s Hearth | ratio | TTFT ms direct | TTFT ms Hearth | e2e ms direct | e2e ms Hearth | Hearth overhead ms |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
