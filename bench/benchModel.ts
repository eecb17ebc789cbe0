import { access } from "node:fs/promises";
import { join } from "node:path";
import { generateModel } from "../src/models/generator/generateModel.ts";
import { presets, type PresetName, type WeightType } from "../src/models/generator/presets.ts";

/** The `bench` preset with seed 1, generated once into `dir` and reused: every benchmark uses it. */
export function ensureBenchModel(dir: string): Promise<string> {
  return ensureGeneratedModel(dir, "bench", 1);
}

/** A generated model, written once into `dir` and reused by later runs. */
export async function ensureGeneratedModel(dir: string, preset: PresetName, seed: number, type?: WeightType): Promise<string> {
  const path = join(dir, preset === "bench" && seed === 1 && !type ? "bench-s1.gguf" : `${preset}-s${seed}${type ? `-${type}` : ""}.gguf`);
  try {
    await access(path);
  } catch {
    console.error(`generating the ${preset} model into ${path} ...`);
    await generateModel({ ...presets[preset], ...(type ? { type } : {}), out: path, seed, name: `hearth-${preset}` });
  }
  return path;
}
