import { GgufInsights, readGgufFileInfo } from "node-llama-cpp";
import { checkGgufFile } from "../gguf/checkGgufFile.ts";

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
export async function estimateMemory(path: string, opts: { contextSize: number; slots: number; batchSize: number }): Promise<MemoryEstimate> {
  await checkGgufFile(path);
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
