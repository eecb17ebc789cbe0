/**
 * The hardware ceiling for batched decoding: N sequences of one context advanced in lockstep by a
 * bare loop (no HTTP, no scheduler, no text), timing node-llama-cpp's native decode and sampling
 * calls. Run it in a process of its own with UV_THREADPOOL_SIZE=1, as the runner does:
 *
 *   npm run bench:ceiling -- [--sequences 1,4,8,16,32] [--steps 32] [--threads 2]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { cacheDir } from "../src/config/dataDir.ts";
import { ensureBenchModel } from "./benchModel.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    sequences: { type: "string", default: "1,4,8,16,32" },
    steps: { type: "string", default: "32" },
    threads: { type: "string", default: "2" },
  },
});
const threads = Number(values.threads);
const steps = Number(values.steps);
const modelPath = values.model ?? await ensureBenchModel(join(cacheDir(), "models"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
const model = await llama.loadModel({ modelPath });

console.log(`bench model, ${threads} threads, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "default"}, ${steps} steps after one warm-up step\n`);
console.log("| sequences | ms per step | decode ms per step | other (sampling, JS) ms per step | tok/s |");
console.log("|---|---|---|---|---|");
for (const n of values.sequences!.split(",").map(Number)) {
  const context = await model.createContext({ contextSize: 2048, sequences: n, threads: { ideal: threads, min: threads } });
  // Time the native decode by wrapping the context's addon object (its methods are read-only).
  const native = (context as unknown as { _ctx: Record<string, unknown> })._ctx;
  let decodeMs = 0;
  (context as unknown as { _ctx: unknown })._ctx = new Proxy(native, {
    get(target, prop) {
      const value = target[prop as string];
      if (prop === "decodeBatch") {
        return async () => {
          const t = performance.now();
          await (value as () => Promise<void>).call(target);
          decodeMs += performance.now() - t;
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const iterators = Array.from({ length: n }, (_, i) =>
    context.getSequence().evaluate(model.tokenize(`Request ${i}. Describe the hearth of an old farmhouse.`, true), { temperature: 0, yieldEogToken: true }));
  await Promise.all(iterators.map((it) => it.next()));
  decodeMs = 0;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await Promise.all(iterators.map((it) => it.next()));
  const wall = (performance.now() - t0) / steps;
  console.log(`| ${n} | ${wall.toFixed(1)} | ${(decodeMs / steps).toFixed(1)} | ${(wall - decodeMs / steps).toFixed(1)} | ${((n * 1000) / wall).toFixed(1)} |`);
  await Promise.all(iterators.map((it) => it.return()));
  await context.dispose();
}
await model.dispose();
await llama.dispose();
