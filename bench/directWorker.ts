/**
 * The baseline: node-llama-cpp driven directly, in its own process, the way a script without
 * Hearth would. Receives {prompt, tokens} over IPC and answers with timings.
 */
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, threadsArg, ctxArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
const model = await llama.loadModel({ modelPath: modelPath! });
const context = await model.createContext({ contextSize: Number(ctxArg), threads: { ideal: threads, min: threads } });
const sequence = context.getSequence();
process.send!({ type: "ready" });

process.on("message", async (msg: { prompt: string; tokens: number }) => {
  await sequence.clearHistory();
  const t0 = performance.now();
  const input = model.tokenize(msg.prompt, true);
  if (model.tokens.bos != null && model.tokens.shouldPrependBosToken) input.unshift(model.tokens.bos);
  let first = 0;
  let n = 0;
  let text = "";
  for await (const token of sequence.evaluate(input, { temperature: 0, yieldEogToken: true })) {
    if (n === 0) first = performance.now();
    text += model.detokenize([token]);
    if (++n >= msg.tokens) break;
  }
  const end = performance.now();
  process.send!({ type: "result", e2eMs: end - t0, ttftMs: first - t0, decodeTps: (n - 1) / ((end - first) / 1000), tokens: n, promptTokens: input.length, text });
});
