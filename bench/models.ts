/**
 * Many models: memory estimate against measured memory, cold load time, and time to first token
 * cold (the request loads the model) against warm, for each generated preset and for the `bench`
 * model at Q8_0 and Q4_K_M.
 *
 *   npm run bench:models -- [--runs 3] [--threads 2] [--slots 4] [--ctx 4096]
 */
import { access, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { createHearth } from "../src/cli/serve.ts";
import { resolveConfig } from "../src/config/loadConfig.ts";
import { RunnerEngine } from "../src/engine/runner/RunnerEngine.ts";
import { estimateMemory } from "../src/models/budget/estimateMemory.ts";
import { cacheDir } from "../src/config/dataDir.ts";
import { generateModel } from "../src/models/generator/generateModel.ts";
import { presets, type PresetName, type WeightType } from "../src/models/generator/presets.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, threads: { type: "string", default: "2" }, slots: { type: "string", default: "4" }, ctx: { type: "string", default: "4096" } } });
const runs = Number(values.runs);
const threads = Number(values.threads);
const slots = Number(values.slots);
const ctx = Number(values.ctx);
const dir = join(cacheDir(), "models");

async function model(preset: PresetName, type?: WeightType): Promise<string> {
  const path = join(dir, `bench-models-${preset}-${type ?? "default"}-s1.gguf`);
  try {
    await access(path);
  } catch {
    console.error(`generating ${preset} ${type ?? ""} into ${path} ...`);
    await generateModel({ ...presets[preset], ...(type ? { type } : {}), out: path, seed: 1, name: `hearth-${preset}` });
  }
  return path;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (b: number) => (b / 1048576).toFixed(0);

const cases: [string, string][] = [
  ["tiny (Q8_0)", await model("tiny")],
  ["tiny-llama3 (Q8_0)", await model("tiny-llama3")],
  ["bench Q8_0", await model("bench")],
  ["bench Q4_K_M", await model("bench", "q4_k_m")],
];
const prompt = { kind: "text" as const, text: "The hearth was the center of the home: people cooked there and told stories." };

console.log(`${slots} slots x ${ctx} tokens, ${threads} threads, median of ${runs} runs\n`);
console.log("| model | estimate MiB | measured MiB | measured / estimate | cold load ms | TTFT cold ms | TTFT warm ms | decode tok/s |");
console.log("|---|---|---|---|---|---|---|---|");
for (const [name, path] of cases) {
  const estimate = await estimateMemory(path, { contextSize: ctx, slots, batchSize: 512 });
  const measured: number[] = [];
  const loads: number[] = [];
  const speeds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const runner = new RunnerEngine({ modelPath: path, modelId: "m", threads, contextSize: ctx, slots, maxQueue: 8, timeoutMs: 600_000, batchSize: 512, minPrefixReuse: 256, minPrefixCopy: 32, gpu: "cpu" });
    const t0 = performance.now();
    await runner.load();
    loads.push(performance.now() - t0);
    let first = 0;
    let tokens = 0;
    const started = performance.now();
    for await (const ev of runner.generate({ id: `r${i}`, model: "m", prompt, maxTokens: 64, stop: [], sampling: { temperature: 0 } })) {
      if (ev.type === "text" && !first) first = performance.now();
      if (ev.type === "final") tokens = ev.usage.completionTokens;
    }
    if (tokens > 1) speeds.push(((tokens - 1) * 1000) / (performance.now() - (first || started)));
    measured.push((await runner.snapshot())!.rssBytes);
    await runner.close();
  }
  // Through a real server: the first request finds the model unloaded and loads it.
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) {
    const hearth = await createHearth(resolveConfig({
      port: 0, log_level: "silent", models_dir: await mkdtemp(join(tmpdir(), "hearth-bench-models-")), keep_alive: -1,
      model: { threads, gpu: "cpu" }, inference: { context_length: ctx }, batching: { max_batch_size: slots },
      models: [{ id: "m", path }],
    }), () => {});
    const client = new OpenAI({ baseURL: `${await hearth.listen()}/v1`, apiKey: "unused", maxRetries: 0 });
    await hearth.start();
    for (const into of [cold, warm]) {
      const t = performance.now();
      const stream = await client.completions.create({ model: "m", prompt: prompt.text, max_tokens: 4, temperature: 0, stream: true });
      let seen = false;
      for await (const c of stream) if (!seen && c.choices[0]?.text) { seen = true; into.push(performance.now() - t); }
    }
    await hearth.close();
  }
  const m = median(measured);
  console.log(`| ${name} | ${mib(estimate.totalBytes)} | ${mib(m)} | ${(m / estimate.totalBytes).toFixed(2)} | ${median(loads).toFixed(0)} | ${median(cold).toFixed(0)} | ${median(warm).toFixed(0)} | ${median(speeds).toFixed(1)} |`);
}
