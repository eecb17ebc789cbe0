import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { getLlama, LlamaLogLevel, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { generateModel } from "../../src/models/generator/generateModel.ts";
import { presets, type ModelShape, type WeightType } from "../../src/models/generator/presets.ts";

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 1 });
after(() => llama.dispose());
const dir = await mkdtemp(join(tmpdir(), "hearth-quant-"));

/** Rows of 256: every K-quant applies without fallback, while the model stays small and fast. */
const kShape: ModelShape = { ...presets.tiny, width: 256, heads: 4, kvHeads: 2, ff: 512, layers: 2 };
const prompt = "The hearth was warm and";

async function generated(shape: ModelShape, type: WeightType, seed = 7): Promise<string> {
  const out = join(dir, `${shape.width}-${shape.ff}-${shape.tiedOutput ? "tied" : "untied"}-${type}-s${seed}.gguf`);
  return (await generateModel({ ...shape, type, out, seed })).path;
}

async function withSequence<T>(path: string, fn: (model: LlamaModel, sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    const context = await model.createContext({ contextSize: 256, threads: 1 });
    try {
      return await fn(model, context.getSequence());
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

const promptTokens = (model: LlamaModel) => [model.tokens.bos!, ...model.tokenize(prompt, false)];

/** The model's llama_ftype as llama.cpp loaded it, and its first 16 greedy tokens after the prompt. */
async function greedy(path: string): Promise<{ fileType: number; tokens: Token[] }> {
  return withSequence(path, async (model, sequence) => {
    const tokens: Token[] = [];
    for await (const token of sequence.evaluate(promptTokens(model), { temperature: 0, yieldEogToken: true })) {
      tokens.push(token);
      if (tokens.length >= 16) break;
    }
    return { fileType: model.fileInfo.metadata.general.file_type as number, tokens };
  });
}

/** The log-probabilities of every vocabulary token to follow the prompt (softmax of the raw logits). */
async function nextTokenLogProbs(path: string): Promise<Float64Array> {
  return withSequence(path, async (model, sequence) => {
    const input = promptTokens(model);
    const last = input.pop()!;
    const results = await sequence.controlledEvaluate([
      ...input,
      [last, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }],
    ]);
    const probabilities = results.at(-1)!.next.probabilities!;
    assert.equal(probabilities.size, model.fileInfo.metadata.tokenizer.ggml.tokens.length, "a probability for every token");
    const out = new Float64Array(probabilities.size);
    for (const [token, p] of probabilities) out[token] = Math.log(Math.max(p, 1e-300));
    return out;
  });
}

function correlation(a: Float64Array, b: Float64Array): number {
  const mean = (x: Float64Array) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = mean(a);
  const mb = mean(b);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/** KL(p || q) in nats, from log-probabilities. */
function kl(logP: Float64Array, logQ: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < logP.length; i++) sum += Math.exp(logP[i]!) * (logP[i]! - logQ[i]!);
  return sum;
}

test("llama.cpp loads a q4_0 model of the tiny shape and decodes greedily, not repeating one token", async () => {
  const { fileType, tokens } = await greedy(await generated(presets.tiny, "q4_0"));
  assert.equal(fileType, 2); // LLAMA_FTYPE_MOSTLY_Q4_0
  assert.equal(tokens.length, 16);
  // The q8_0 model of this shape does not repeat one token either (10 distinct of 16 when this was written).
  assert.ok(new Set(tokens).size > 1, `one token repeated: ${tokens.join(",")}`);
});

test("llama.cpp loads a q4_k_m model (width 256, ff 512, 2 layers) and decodes greedily, not repeating one token", async () => {
  const { fileType, tokens } = await greedy(await generated(kShape, "q4_k_m"));
  assert.equal(fileType, 15); // LLAMA_FTYPE_MOSTLY_Q4_K_M
  assert.equal(tokens.length, 16);
  assert.ok(new Set(tokens).size > 1, `one token repeated: ${tokens.join(",")}`);
});

test("llama.cpp's kernels read the quantized weights as the f16 weights of the same seed", async () => {
  // A quantized file holds the f16 file's weights, rounded: through llama.cpp's own matrix kernels
  // its next-token distribution must stay close to the f16 model's. A misread block would scramble
  // weights, as a model of another seed has them: that control sits near zero correlation.
  const cases: [string, ModelShape, WeightType][] = [
    ["tiny q4_0 (Q4_0, Q8_0 output)", presets.tiny, "q4_0"],
    ["q4_k_m (Q4_K, Q6_K output, attn_v and ffn_down)", kShape, "q4_k_m"],
    ["q4_k_m tied (Q6_K embedding rows)", { ...kShape, tiedOutput: true }, "q4_k_m"],
    ["tiny q4_k_m (Q5_0 and Q8_0 fallbacks)", presets.tiny, "q4_k_m"],
  ];
  for (const [name, shape, type] of cases) {
    const reference = await nextTokenLogProbs(await generated(shape, "f16"));
    const quantized = await nextTokenLogProbs(await generated(shape, type));
    const other = await nextTokenLogProbs(await generated(shape, "f16", 8));
    const r = correlation(reference, quantized);
    const divergence = kl(reference, quantized);
    assert.ok(r > 0.93, `${name}: log-probabilities correlate ${r.toFixed(3)} with the f16 model's`);
    assert.ok(divergence < 0.35, `${name}: KL from the f16 model ${divergence.toFixed(3)} nats`);
    const control = correlation(reference, other);
    assert.ok(Math.abs(control) < 0.3, `${name}: control (another seed) correlates ${control.toFixed(3)}`);
  }
});
