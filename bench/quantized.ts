/**
 * Q4_K_M against Q8_0 on the `bench` shape (seed 1): file size, load time and single-stream greedy
 * decode speed, measured through node-llama-cpp directly in one process, the two models taking
 * turns run by run so that other load on the machine falls on both alike.
 *
 *   npm run bench:quant -- [--tokens 128] [--runs 3] [--threads 2]
 *
 * The models are generated into the OS temp dir on first use (q4_k_m takes about 20 s) and reused.
 */
import { access, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { generateModel } from "../src/models/generator/generateModel.ts";
import { presets, type WeightType } from "../src/models/generator/presets.ts";

const { values } = parseArgs({
  options: {
    tokens: { type: "string", default: "128" },
    runs: { type: "string", default: "3" },
    threads: { type: "string", default: "2" },
  },
});
const tokens = Number(values.tokens);
const runs = Number(values.runs);
const threads = Number(values.threads);
/** Part of the file name: bump it when the generator's bytes change, so a stale file is not reused. */
const GENERATOR_TAG = "g1";
const prompt = "The hearth was the center of the home: people cooked there, kept warm there, and told stories late into the night. " +
  "Write a short description of a winter evening by the fire, with the sounds and smells of the room.";

async function benchFile(type: WeightType): Promise<string> {
  const path = join(tmpdir(), `hearth-bench-s1-${type}-${GENERATOR_TAG}.gguf`);
  try {
    await access(path);
  } catch {
    console.error(`generating the bench model as ${type} into ${path} ...`);
    const t0 = performance.now();
    await generateModel({ ...presets.bench, type, out: path, seed: 1, name: `hearth-bench-${type}` });
    console.error(`  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return path;
}

let promptTokens = 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });

interface Entry { type: WeightType; path: string; bytes: number; loadMs: number[]; model?: LlamaModel; sequence?: LlamaContextSequence; tps: number[]; text: string }
const entries: Entry[] = [];
for (const type of ["q8_0", "q4_k_m"] as const) {
  const path = await benchFile(type);
  entries.push({ type, path, bytes: (await stat(path)).size, loadMs: [], tps: [], text: "" });
}

// Load times: the median of three loads each, after one untimed load (so both files are in the page cache).
for (const e of entries) await (await llama.loadModel({ modelPath: e.path })).dispose();
for (let i = 0; i < 3; i++) {
  for (const e of entries) {
    const t0 = performance.now();
    const model = await llama.loadModel({ modelPath: e.path });
    e.loadMs.push(performance.now() - t0);
    await model.dispose();
  }
}

for (const e of entries) {
  e.model = await llama.loadModel({ modelPath: e.path });
  const context = await e.model.createContext({ contextSize: 1024, threads: { ideal: threads, min: threads } });
  e.sequence = context.getSequence();
}

/** Greedy decoding of `tokens` tokens after the prompt; tokens/s from the first output token on. */
async function decode(e: Entry): Promise<{ tps: number; text: string }> {
  const model = e.model!;
  const sequence = e.sequence!;
  await sequence.clearHistory();
  const input = model.tokenize(prompt, true);
  if (model.tokens.bos != null && model.tokens.shouldPrependBosToken) input.unshift(model.tokens.bos);
  promptTokens = input.length;
  const output: Token[] = [];
  let first = 0;
  for await (const token of sequence.evaluate(input, { temperature: 0, yieldEogToken: true })) {
    if (output.length === 0) first = performance.now();
    output.push(token);
    if (output.length >= tokens) break;
  }
  const end = performance.now();
  if (output.length < tokens) throw new Error(`${e.type}: only ${output.length} tokens before end of generation`);
  return { tps: (output.length - 1) / ((end - first) / 1000), text: model.detokenize(output) };
}

for (const e of entries) await decode(e); // warm-up
for (let i = 0; i < runs; i++) {
  for (const e of entries) {
    const r = await decode(e);
    e.tps.push(r.tps);
    if (e.text !== "" && e.text !== r.text) console.error(`warning: ${e.type}'s greedy text changed between runs`);
    e.text = r.text;
  }
}

const [q8, q4] = entries as [Entry, Entry];
const row = (label: string, e: Entry) =>
  `| ${label} | ${(e.bytes / 1e6).toFixed(1)} | ${median(e.loadMs).toFixed(0)} | ${median(e.tps).toFixed(1)} | ${e.tps.map((t) => t.toFixed(1)).join(", ")} |`;
console.log(`\nbench preset (seed 1), ${threads} threads, 1 sequence, ${tokens} greedy tokens after a ${promptTokens}-token prompt, ` +
  `one warm-up run, then ${runs} runs each alternating; load: median of 3 warm loads\n`);
console.log("| file | size MB | load ms | decode tok/s (median) | decode tok/s (runs) |");
console.log("|---|---|---|---|---|");
console.log(row("Q8_0", q8));
console.log(row("Q4_K_M", q4));
console.log(`| Q4_K_M / Q8_0 | ${(q4.bytes / q8.bytes).toFixed(2)}x | ${(median(q4.loadMs) / median(q8.loadMs)).toFixed(2)}x | ${(median(q4.tps) / median(q8.tps)).toFixed(2)}x | |`);

for (const e of entries) {
  await e.sequence!.context.dispose();
  await e.model!.dispose();
}
await llama.dispose();
