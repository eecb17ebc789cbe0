import { GGML_BLOCK, GgmlType, type GgmlTypeId } from "../gguf/GgufWriter.ts";
import type { ModelShape, WeightType } from "./presets.ts";

/** llama_ftype values for `general.file_type` (llama.h). */
export const FILE_TYPE = { f16: 1, q4_0: 2, q8_0: 7, q4_k_m: 15 } as const satisfies Record<WeightType, number>;

/**
 * llama.cpp's use_more_bits (llama-quant.cpp): the first and last eighth of the layers and every
 * third one between get more bits in the *_K_M mixes (6 of the bench preset's 12 layers).
 */
export function useMoreBits(layer: number, layers: number): boolean {
  const eighth = Math.trunc(layers / 8);
  return layer < eighth || layer >= Math.trunc((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

/**
 * The ggml type of a 2-D weight in a file of `shape.type`, as llama-quantize chooses it for a
 * `llama`-architecture model without an importance matrix (llama_tensor_get_type in
 * llama-quant.cpp), including its fallback for rows that are not a whole number of 256-blocks.
 *
 * - f16, q8_0: every weight F16 or Q8_0.
 * - q4_0: Q4_0, but the output matrix (or the embedding, when it is tied to the output) Q6_K.
 * - q4_k_m: Q4_K, but the output (or tied embedding) Q6_K, and attn_v and ffn_down Q6_K in the
 *   layers {@link useMoreBits} picks.
 *
 * `ne0` is the row length (input width). The 1-D norms are not asked: they stay F32.
 */
export function weightType(shape: Pick<ModelShape, "type" | "layers" | "tiedOutput">, name: string, ne0: number): GgmlTypeId {
  switch (shape.type) {
    case "f16": return GgmlType.F16;
    case "q8_0": return GgmlType.Q8_0;
    case "q4_0":
    case "q4_k_m": break;
  }
  const base = shape.type === "q4_0" ? GgmlType.Q4_0 : GgmlType.Q4_K;
  let type: GgmlTypeId = base;
  const layer = /^blk\.(\d+)\./.exec(name)?.[1];
  if (name === "output.weight" || (shape.tiedOutput && name === "token_embd.weight")) {
    // The output matrix (and the embedding that stands in for it) keeps more bits; a row the base
    // type cannot block goes straight to Q8_0.
    type = ne0 % GGML_BLOCK[base].size !== 0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
  } else if (shape.type === "q4_k_m" && layer !== undefined && /\.(attn_v|ffn_down)\.weight$/.test(name)) {
    if (useMoreBits(Number(layer), shape.layers)) type = GgmlType.Q6_K;
  }
  return fallbackType(type, ne0);
}

/**
 * llama.cpp's tensor_type_fallback: a 256-block type whose rows do not split into 256-blocks
 * becomes a 32-block type of about its size (Q4_K to Q5_0, Q6_K to Q8_0), and a row that does
 * not split into 32-blocks either becomes F16.
 */
export function fallbackType(type: GgmlTypeId, ne0: number): GgmlTypeId {
  if (ne0 % GGML_BLOCK[type].size === 0) return type;
  const next = type === GgmlType.Q4_K ? GgmlType.Q5_0 : type === GgmlType.Q6_K ? GgmlType.Q8_0 : type;
  return ne0 % GGML_BLOCK[next].size === 0 ? next : GgmlType.F16;
}
