import { basename } from "node:path";
import { childMain, runInChild } from "../../util/childProcess.ts";
import { checkGgufFile } from "../gguf/checkGgufFile.ts";

export interface EstimateOptions { contextSize: number; slots: number; batchSize: number }

export interface MemoryEstimate {
  /** Everything: the runner process, the weights, the KV cache of every slot, compute buffers. */
  totalBytes: number;
  modelBytes: number;
  contextBytes: number;
  /** The context per slot it will get: what was asked, capped at the model's trained context. */
  contextSize: number;
}

/**
 * What an idle runner process takes before it loads a model: Node.js, node-llama-cpp and
 * llama.cpp's CPU backend (measured: `npm run bench:memory`, docs/benchmarks.md).
 */
export const RUNNER_BASE_BYTES = 128 * 1024 * 1024;

/**
 * Estimates what loading a model with `slots` sequences of `contextSize` tokens will take, from the
 * file's GGUF metadata through node-llama-cpp's insights (the sizes llama.cpp will allocate), not
 * from the file size. The header is checked first: node-llama-cpp's reader can hang on a file cut
 * in its header, and a crafted file must not make it allocate. Throws if the file is not usable.
 */
export async function estimateMemory(path: string, opts: EstimateOptions): Promise<MemoryEstimate> {
  await checkGgufFile(path);
  return estimateChecked(path, opts);
}

async function estimateChecked(path: string, opts: EstimateOptions): Promise<MemoryEstimate> {
  // Imported here, in the child: node-llama-cpp costs the server a third of a second at start.
  const { GgufInsights, readGgufFileInfo } = await import("node-llama-cpp");
  const info = await readGgufFileInfo(path, { readTensorInfo: true });
  const insights = await GgufInsights.from(info);
  const contextSize = Math.min(opts.contextSize, insights.trainContextSize ?? opts.contextSize);
  const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0, useMmap: true });
  const context = await insights.estimateContextResourceRequirementsV2({
    contextSize,
    modelGpuLayers: 0,
    sequences: opts.slots,
    batchSize: opts.batchSize,
    flashAttention: insights.flashAttentionSupported,
  });
  return {
    totalBytes: RUNNER_BASE_BYTES + model.cpuRam + context.cpuRam,
    modelBytes: model.cpuRam,
    contextBytes: context.cpuRam,
    contextSize,
  };
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * estimateMemory in a short-lived child process, one at a time. Reading a GGUF's metadata (a
 * vocabulary of 128,000 strings and their merges) and node-llama-cpp's native resource simulation
 * leave about 200 MB resident in the process that does it; the server estimates each model once
 * and has no use for that memory after. The header is checked here, so a bad file gets the same
 * error as in-process.
 */
export async function estimateMemoryInChild(path: string, opts: EstimateOptions): Promise<MemoryEstimate> {
  await checkGgufFile(path);
  const run = queue.then(async () => JSON.parse(await runInChild(import.meta.url, [JSON.stringify({ path, opts })], `estimating the memory of ${basename(path)}`)) as MemoryEstimate);
  queue = run.catch(() => {});
  return run;
}

if (import.meta.main) {
  await childMain(async () => {
    const { path, opts } = JSON.parse(process.argv[2]!) as { path: string; opts: EstimateOptions };
    return JSON.stringify(await estimateChecked(path, opts));
  });
}
