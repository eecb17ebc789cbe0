/**
 * What sampling costs per token, one stream on the `bench` model (128k vocabulary), for greedy,
 * whole-vocabulary and top-k sampling, measured through node-llama-cpp directly:
 *
 *   npm run bench:sampling
 */
import { join } from "node:path";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { cacheDir } from "../src/config/dataDir.ts";
import { ensureBenchModel } from "./benchModel.ts";

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 2 });
const model = await llama.loadModel({ modelPath: await ensureBenchModel(join(cacheDir(), "models")) });
const context = await model.createContext({ contextSize: 1024, threads: { ideal: 2, min: 2 } });
const sequence = context.getSequence();
console.log("| sampling | ms per token |\n|---|---|");
for (const [name, opts] of [
  ["greedy (temperature 0)", { temperature: 0 }],
  ["temperature 1, whole vocabulary", { temperature: 1, topK: 0, topP: 1, minP: 0 }],
  ["temperature 1, top_k 40", { temperature: 1, topK: 40, topP: 1, minP: 0 }],
  ["temperature 1, top_p 0.95, min_p 0.05", { temperature: 1, topK: 0, topP: 0.95, minP: 0.05 }],
] as const) {
  await sequence.clearHistory();
  const it = sequence.evaluate(model.tokenize("Describe the hearth of an old farmhouse in winter.", true), { ...opts, seed: 1, yieldEogToken: true });
  await it.next();
  const t0 = performance.now();
  for (let i = 0; i < 48; i++) await it.next();
  console.log(`| ${name} | ${((performance.now() - t0) / 48).toFixed(1)} |`);
  await it.return();
}
await context.dispose();
await model.dispose();
await llama.dispose();
