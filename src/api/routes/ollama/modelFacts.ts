import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { checkGgufFile } from "../../../models/gguf/checkGgufFile.ts";
import type { OllamaModelDetails } from "../../../wire/ollama.ts";

/** What Ollama's model listings say of a model file, read from its GGUF header. */
export interface ModelFacts {
  details: OllamaModelDetails;
  /** The header's numbers, booleans and short strings, for /api/show's `model_info`. */
  metadata: Record<string, string | number | boolean>;
  sizeBytes: number;
  modifiedAt: string;
  /** Ollama's digest names a manifest; here a sha256 of the file's name, size and time, which changes when the file does (not a digest of its bytes). */
  digest: string;
}

/** llama.cpp's `general.file_type` values (llama_ftype in llama.h) by name. */
const FILE_TYPES: Record<number, string> = {
  0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L",
  14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
  23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M",
  32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
};

/** A model with no file of its own (served by other servers): nothing is known of its weights. */
export const NO_DETAILS: OllamaModelDetails = { parent_model: "", format: "", family: "", families: [], parameter_size: "", quantization_level: "" };

const cache = new Map<string, Promise<ModelFacts>>();

/**
 * The facts of a GGUF file, read once per version of it (its size and modification time): the
 * header walk is the server's own checked one (checkGgufFile), never the file's declared sizes.
 */
export async function modelFacts(path: string): Promise<ModelFacts> {
  const info = await stat(path);
  const key = `${path}\0${info.size}\0${info.mtimeMs}`;
  let facts = cache.get(key);
  if (!facts) {
    facts = read(path, info.size, info.mtime);
    for (const k of cache.keys()) if (k.startsWith(`${path}\0`)) cache.delete(k);
    cache.set(key, facts);
    facts.catch(() => cache.delete(key));
  }
  return facts;
}

async function read(path: string, sizeBytes: number, mtime: Date): Promise<ModelFacts> {
  const summary = await checkGgufFile(path, { metadata: true });
  const metadata = summary.metadata ?? {};
  const declared = metadata["general.parameter_count"];
  const parameters = typeof declared === "number" ? declared : summary.parameterCount;
  const family = typeof metadata["general.architecture"] === "string" ? metadata["general.architecture"] : "";
  const fileType = metadata["general.file_type"];
  return {
    details: {
      parent_model: "", format: "gguf", family, families: family ? [family] : [],
      parameter_size: humanNumber(parameters),
      quantization_level: typeof fileType === "number" ? FILE_TYPES[fileType] ?? `type ${fileType}` : "",
    },
    metadata: { ...metadata, "general.parameter_count": parameters },
    sizeBytes,
    modifiedAt: mtime.toISOString(),
    digest: createHash("sha256").update(`${path}\0${sizeBytes}\0${mtime.getTime()}`).digest("hex"),
  };
}

/** A parameter count as Ollama writes it: 8.0B, 494.03M, 8K. */
function humanNumber(n: number): string {
  const scaled = (unit: number, suffix: string, digits: number) => {
    const x = n / unit;
    return `${Number.isInteger(x) ? x.toFixed(0) : x.toFixed(digits)}${suffix}`;
  };
  if (n >= 1e9) return scaled(1e9, "B", 1);
  if (n >= 1e6) return scaled(1e6, "M", 2);
  if (n >= 1e3) return scaled(1e3, "K", 0);
  return String(n);
}
