/**
 * The file's weight format, named as llama-quantize names it. q4_0 and q4_k_m mix in other types
 * for some tensors as llama-quantize does (see tensorTypes.ts).
 */
export type WeightType = "f16" | "q8_0" | "q4_0" | "q4_k_m";
export const weightTypes: readonly WeightType[] = ["f16", "q8_0", "q4_0", "q4_k_m"];

export function isWeightType(type: string): type is WeightType {
  return (weightTypes as readonly string[]).includes(type);
}
import type { Family } from "./families.ts";

/** The shape of a generated model; its family decides the tokenizer, template and architecture. */
export interface ModelShape {
  family: Family;
  layers: number;
  /** Embedding width (`llama.embedding_length`). */
  width: number;
  heads: number;
  kvHeads: number;
  /** Feed-forward width (`llama.feed_forward_length`). */
  ff: number;
  /** Trained context length written to `llama.context_length`. */
  contextLength: number;
  type: WeightType;
  /**
   * Reuse the embedding as the output matrix. A tiny byte vocabulary needs its own output matrix:
   * tied, its greedy text collapses into one repeated byte.
   */
  tiedOutput: boolean;
  /**
   * A reranker's classification head, as llama.cpp's converter writes Qwen3-Reranker: pooling type
   * RANK, a `cls.output` matrix of two labels (yes, no) and the `rerank` prompt template. The file
   * then serves /v1/rerank; llama.cpp reads such a head for the qwen3 architecture only.
   */
  rankHead?: boolean;
}

export const presets = {
  /** Byte-level vocabulary, about 100 KB: loads in milliseconds, for most tests. */
  tiny: { family: "bytes", layers: 2, width: 32, heads: 4, kvHeads: 2, ff: 128, contextLength: 4096, type: "q8_0", tiedOutput: false },
  /** The real Llama 3 vocabulary on a tiny body, about 12 MB: the built-in demo model. */
  "tiny-llama3": { family: "llama3", layers: 2, width: 32, heads: 4, kvHeads: 2, ff: 64, contextLength: 8192, type: "q8_0", tiedOutput: true },
  /** About 174M parameters, 190 MB: every benchmark uses exactly this shape so figures compare across issues. */
  bench: { family: "llama3", layers: 12, width: 768, heads: 12, kvHeads: 4, ff: 2048, contextLength: 8192, type: "q8_0", tiedOutput: true },
  // Each family with its real tokenizer and chat template on a tiny body (see families.ts for the architecture).
  "llama3.1": { family: "llama3.1", layers: 2, width: 32, heads: 4, kvHeads: 2, ff: 64, contextLength: 8192, type: "q8_0", tiedOutput: true },
  qwen3: { family: "qwen3", layers: 2, width: 32, heads: 4, kvHeads: 2, ff: 64, contextLength: 8192, type: "q8_0", tiedOutput: true },
  gemma3: { family: "gemma3", layers: 2, width: 32, heads: 4, kvHeads: 2, ff: 64, contextLength: 8192, type: "q8_0", tiedOutput: true },
  mistral: { family: "mistral", layers: 2, width: 32, heads: 4, kvHeads: 2, ff: 64, contextLength: 8192, type: "q8_0", tiedOutput: true },
  "gpt-oss": { family: "gpt-oss", layers: 2, width: 32, heads: 4, kvHeads: 2, ff: 64, contextLength: 8192, type: "q8_0", tiedOutput: true },
  /** A Qwen3-Reranker-shaped model (the real Qwen3 vocabulary, about 5 MB): ranks documents for /v1/rerank. */
  reranker: { family: "qwen3", layers: 2, width: 32, heads: 4, kvHeads: 2, ff: 64, contextLength: 8192, type: "q8_0", tiedOutput: true, rankHead: true },
} as const satisfies Record<string, ModelShape>;

export type PresetName = keyof typeof presets;
export const presetNames = Object.keys(presets) as PresetName[];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(presets, name);
}

/** Throws a RangeError naming the first option that llama.cpp could not run. */
export function validateShape(s: ModelShape): void {
  const positive = ["layers", "width", "heads", "kvHeads", "ff", "contextLength"] as const;
  for (const k of positive) {
    if (!Number.isInteger(s[k]) || s[k] < 1 || s[k] > 1 << 20) throw new RangeError(`${k} must be an integer from 1 to ${1 << 20}, got ${s[k]}`);
  }
  if (s.width % s.heads !== 0) throw new RangeError(`width (${s.width}) must be divisible by heads (${s.heads})`);
  if (s.heads % s.kvHeads !== 0) throw new RangeError(`heads (${s.heads}) must be divisible by kv heads (${s.kvHeads})`);
  if ((s.width / s.heads) % 2 !== 0) throw new RangeError(`head size (${s.width / s.heads}) must be even for RoPE`);
  if (s.rankHead && s.family !== "qwen3") throw new RangeError(`a rank head needs the qwen3 family (llama.cpp reads it for the qwen3 architecture), got ${s.family}`);
  if (!isWeightType(s.type)) throw new RangeError(`type must be one of ${weightTypes.join(", ")}, got ${String(s.type)}`);
  // Every quantized type blocks rows by at least 32 (q4_k_m's 256-blocks fall back to 32-blocks).
  if (s.type !== "f16" && (s.width % 32 !== 0 || s.ff % 32 !== 0)) {
    throw new RangeError(`${s.type} needs width and ff to be multiples of 32 (width ${s.width}, ff ${s.ff})`);
  }
}
