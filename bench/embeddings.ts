/**
 * Embeddings per second on the `bench` preset model: one request with many inputs (one runner round
 * trip) against the same inputs one request at a time, through a real Hearth and HTTP. Also the
 * resident memory the embedding context adds to the model's runner.
 *
 *   npm run bench:embeddings -- [--inputs 64] [--rounds 3] [--threads N] [--model path.gguf]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createHearth } from "../src/cli/serve.ts";
import { resolveConfig } from "../src/config/loadConfig.ts";
import { cacheDir } from "../src/config/dataDir.ts";
import { ensureBenchModel } from "./benchModel.ts";

const { values } = parseArgs({ options: {
  inputs: { type: "string", default: "64" }, rounds: { type: "string", default: "3" },
  threads: { type: "string" }, model: { type: "string" },
} });
const n = Number(values.inputs);
const rounds = Number(values.rounds);
const threads = Number(values.threads ?? availableParallelism());
const modelPath = values.model ?? await ensureBenchModel(join(cacheDir(), "models"));

const own = [await mkdtemp(join(tmpdir(), "hearth-bench-data-")), await mkdtemp(join(tmpdir(), "hearth-bench-models-"))];
const config = resolveConfig({
  port: 0, log_level: "silent", data_dir: own[0], models_dir: own[1],
  model: { path: modelPath, name: "bench", threads, gpu: "cpu" }, cache: { enabled: false },
}, {});
const hearth = await createHearth(config, () => {});
const url = await hearth.listen();
await hearth.start();

// Short sentences of varied length (about 10 to 30 tokens), different in every round.
const words = "the quick brown fox jumps over a lazy dog while seven bright stars shine above quiet hills near old river towns".split(" ");
const sentence = (i: number) => Array.from({ length: 8 + (i % 17) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" ");
const inputsFor = (round: number) => Array.from({ length: n }, (_, i) => `${round}: ${sentence(i + round * n)}`);

async function embed(input: string | string[]): Promise<number> {
  const res = await fetch(`${url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "bench", input }) });
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return ((await res.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
}

const rssBefore = (await hearth.router.snapshot()).models[0]?.rssBytes ?? 0;
await embed("warm up: creates the embedding context");
const memory = hearth.router.runner("bench")?.extraMemory("embed");
const rssAfter = (await hearth.router.snapshot()).models[0]?.rssBytes ?? 0;

let batched = { ms: 0, tokens: 0 };
let single = { ms: 0, tokens: 0 };
for (let r = 0; r < rounds; r++) {
  const inputs = inputsFor(r);
  let t0 = performance.now();
  batched.tokens += await embed(inputs);
  batched.ms += performance.now() - t0;
  t0 = performance.now();
  for (const input of inputsFor(r + rounds)) single.tokens += await embed(input);
  single.ms += performance.now() - t0;
}
await hearth.close();
await Promise.all(own.map((dir) => rm(dir, { recursive: true, force: true })));

const perSec = (count: number, ms: number) => (count * 1000) / ms;
const total = n * rounds;
const b = perSec(total, batched.ms), s = perSec(total, single.ms);
const mib = (x: number) => (x / 1048576).toFixed(1);
console.log(`\nbench model, ${threads} thread(s), ${n} inputs per batch, ${rounds} rounds (${total} embeddings each way)\n`);
console.log("| mode | embeddings/s | prompt tokens/s | ms per embedding |");
console.log("|---|---:|---:|---:|");
console.log(`| one request with ${n} inputs | ${b.toFixed(1)} | ${perSec(batched.tokens, batched.ms).toFixed(0)} | ${(batched.ms / total).toFixed(2)} |`);
console.log(`| ${n} requests of 1 input | ${s.toFixed(1)} | ${perSec(single.tokens, single.ms).toFixed(0)} | ${(single.ms / total).toFixed(2)} |`);
console.log(`| ratio batched / one by one | ${(b / s).toFixed(2)}x | | |`);
console.log(`\nembedding context: runner resident memory ${mib(memory?.beforeBytes ?? rssBefore)} -> ${mib(memory?.afterBytes ?? rssAfter)} MiB ` +
  `(+${mib((memory?.afterBytes ?? 0) - (memory?.beforeBytes ?? 0))} MiB at creation; runner RSS ${mib(rssBefore)} -> ${mib(rssAfter)} MiB after the first embedding)`);
