/**
 * The baseline: node-llama-cpp driven directly, in its own process, the way a script without
 * Hearth would. Receives {prompt, tokens} over IPC and answers with timings.
 */
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";

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
  const output: Token[] = [];
  for await (const token of sequence.evaluate(input, { temperature: 0, yieldEogToken: true })) {
    if (output.length === 0) first = performance.now();
    output.push(token);
    if (output.length >= msg.tokens) break;
  }
  const end = performance.now();
  const n = output.length;
  // Whole, not token by token: a character split over byte tokens must come out whole, as Hearth's.
  const text = model.detokenize(output);
  process.send!({ type: "result", e2eMs: end - t0, ttftMs: first - t0, decodeTps: (n - 1) / ((end - first) / 1000), tokens: n, promptTokens: input.length, text });
});
