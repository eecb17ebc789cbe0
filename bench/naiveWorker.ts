/**
 * Baseline (b): node-llama-cpp driving N sequences of one context directly, each with its own
 * free-running `sequence.evaluate()` loop, the way a script without Hearth would; default libuv
 * thread pool. Receives {concurrency, rounds, tokens} and answers with per-request timings.
 */
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";

const [modelPath, threadsArg, ctxArg, slotsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
const model = await llama.loadModel({ modelPath: modelPath! });
const context = await model.createContext({ contextSize: Number(ctxArg), sequences: Number(slotsArg), threads: { ideal: threads, min: threads } });
const sequences = Array.from({ length: Number(slotsArg) }, () => context.getSequence());
process.send!({ type: "ready" });

process.on("message", async (msg: { prompts: string[][]; tokens: number }) => {
  const started = performance.now();
  const requests: { ttftMs: number; tokens: number }[] = [];
  await Promise.all(msg.prompts.map(async (prompts, c) => {
    const seq = sequences[c]!;
    for (const prompt of prompts) {
      await seq.clearHistory();
      const t0 = performance.now();
      const input: Token[] = model.tokenize(prompt, true);
      if (model.tokens.bos != null && model.tokens.shouldPrependBosToken) input.unshift(model.tokens.bos);
      let n = 0;
      let ttft = 0;
      for await (const _token of seq.evaluate(input, { temperature: 0, yieldEogToken: true })) {
        if (n === 0) ttft = performance.now() - t0;
        if (++n >= msg.tokens) break;
      }
      requests.push({ ttftMs: ttft, tokens: n });
    }
  }));
  process.send!({ type: "result", wallMs: performance.now() - started, requests });
});
