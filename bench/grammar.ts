/**
 * What a grammar costs per token: free generation against JSON-constrained generation (any JSON
 * object, and a JSON schema), one stream on the `bench` model (128k vocabulary), same run, same
 * sampling (temperature 1, whole vocabulary), through the grammars the server builds:
 *
 *   npm run bench:grammar
 */
import { join } from "node:path";
import { getLlama, LlamaLogLevel, type SequenceEvaluateOptions, type Token } from "node-llama-cpp";
import { Grammars } from "../src/engine/llamacpp/Grammars.ts";
import type { OutputConstraint } from "../src/engine/types.ts";
import { cacheDir } from "../src/config/dataDir.ts";
import { ensureBenchModel } from "./benchModel.ts";

const TOKENS = 64;
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 2 });
const model = await llama.loadModel({ modelPath: await ensureBenchModel(join(cacheDir(), "models")) });
const context = await model.createContext({ contextSize: 1024, threads: { ideal: 2, min: 2 } });
const sequence = context.getSequence();
const grammars = new Grammars(llama, model);
const prompt = model.tokenize("Describe the hearth of an old farmhouse in winter, as JSON.", true);

const schema = {
  type: "object",
  properties: {
    room: { type: "string" },
    fires: { type: "array", items: { type: "object", properties: { wood: { enum: ["oak", "birch", "pine"] }, hours: { type: "number" } } } },
    lit: { type: "boolean" },
  },
};

/** Milliseconds per generated token (after the first) over TOKENS tokens, restarting when the output ends. */
async function measure(constraint: OutputConstraint | null): Promise<{ ms: number; restarts: number }> {
  let timed = 0;
  let ms = 0;
  let restarts = 0;
  let seed = 1;
  while (timed < TOKENS) {
    await sequence.clearHistory();
    const opts: SequenceEvaluateOptions = { temperature: 1, topK: 0, topP: 1, minP: 0, seed: seed++, yieldEogToken: true };
    if (constraint) opts.grammarEvaluationState = await grammars.stateFor(constraint);
    const it = sequence.evaluate(prompt, opts);
    const first = await it.next(); // prompt evaluation and the first token: not timed
    if (first.done || model.isEogToken(first.value as Token)) { await it.return(); restarts++; continue; }
    while (timed < TOKENS) {
      const t0 = performance.now();
      const r = await it.next();
      if (r.done || model.isEogToken(r.value)) break;
      ms += performance.now() - t0;
      timed++;
    }
    await it.return();
    if (timed < TOKENS) restarts++;
  }
  return { ms: ms / timed, restarts };
}

await measure(null); // warm-up
const free = await measure(null);
const rows: [string, { ms: number; restarts: number }][] = [
  ["free (no grammar)", free],
  ["json_object (llama.cpp json.gbnf)", await measure({ kind: "json" })],
  ["json_schema (object, array of objects, enum)", await measure({ kind: "json_schema", schema })],
];
console.log(`bench model, ${TOKENS} timed tokens per row, temperature 1, whole vocabulary, 2 threads\n`);
console.log("| generation | ms per token | × free | outputs completed early |\n|---|---|---|---|");
for (const [name, r] of rows) console.log(`| ${name} | ${r.ms.toFixed(2)} | ${(r.ms / free.ms).toFixed(2)} | ${r.restarts} |`);
await context.dispose();
await model.dispose();
await llama.dispose();
