/**
 * What sampling costs per token, one stream on the `bench` model (128k vocabulary), for greedy,
 * whole-vocabulary and top-k sampling, measured through node-llama-cpp directly; each row twice,
 * plain and with Hearth's UTF-8 guard (the bias that keeps output valid UTF-8, see Utf8Guard), in
 * turns for a few rounds so that both see the same machine; medians:
 *
 *   npm run bench:sampling
 */
import { join } from "node:path";
import { getLlama, LlamaLogLevel, type LlamaContextSequence, type LlamaModel, type SequenceEvaluateOptions } from "node-llama-cpp";
import { cacheDir } from "../src/config/dataDir.ts";
import { Utf8Bans } from "../src/engine/llamacpp/Utf8Guard.ts";
import { ensureBenchModel } from "./benchModel.ts";

const TOKENS = 48;
const ROUNDS = 5;
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 2 });
const model = await llama.loadModel({ modelPath: await ensureBenchModel(join(cacheDir(), "models")) });
const context = await model.createContext({ contextSize: 1024, threads: { ideal: 2, min: 2 } });
const sequence = context.getSequence();
const started = performance.now();
const bans = Utf8Bans.forModel(model);
console.log(`UTF-8 tables for ${bans.vocabulary.size} tokens: ${(performance.now() - started).toFixed(1)} ms\n`);
console.log("| sampling | ms per token | with the UTF-8 guard | × | tokens sampled inside a character |\n|---|---|---|---|---|");
for (const [name, opts] of [
  ["greedy (temperature 0)", { temperature: 0 }],
  ["temperature 1, whole vocabulary", { temperature: 1, topK: 0, topP: 1, minP: 0 }],
  ["temperature 1, top_k 40", { temperature: 1, topK: 40, topP: 1, minP: 0 }],
  ["temperature 1, top_p 0.95, min_p 0.05", { temperature: 1, topK: 0, topP: 0.95, minP: 0.05 }],
] as const) {
  const plain: number[] = [];
  const guarded: number[] = [];
  let inside = 0;
  for (let round = 0; round < ROUNDS; round++) {
    plain.push((await msPerToken(sequence, model, opts)).ms);
    const guard = bans.guard();
    const g = await msPerToken(sequence, model, { ...opts, tokenBias: () => guard.bias() }, (t) => guard.accept(t), () => guard.midCharacter);
    guarded.push(g.ms);
    inside = g.inside;
  }
  const [p, g] = [median(plain), median(guarded)];
  console.log(`| ${name} | ${p.toFixed(1)} | ${g.toFixed(1)} | ${(g / p).toFixed(3)} | ${inside} of ${TOKENS} |`);
}
await context.dispose();
await model.dispose();
await llama.dispose();

/** Mean time per generated token after the first, and how many were sampled inside a character. */
async function msPerToken(seq: LlamaContextSequence, m: LlamaModel, opts: SequenceEvaluateOptions, accept = (_t: number) => {}, inside = () => false): Promise<{ ms: number; inside: number }> {
  await seq.clearHistory();
  const it = seq.evaluate(m.tokenize("Describe the hearth of an old farmhouse in winter.", true), { ...opts, seed: 1, yieldEogToken: true });
  accept((await it.next()).value!);
  let n = 0;
  const t0 = performance.now();
  for (let i = 0; i < TOKENS; i++) {
    if (inside()) n++;
    const r = await it.next();
    if (!r.done) accept(r.value);
  }
  const ms = (performance.now() - t0) / TOKENS;
  await it.return();
  return { ms, inside: n };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
