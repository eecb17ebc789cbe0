import { access } from "node:fs/promises";
import { join } from "node:path";
import { generateModel } from "../src/models/generator/generateModel.ts";
import { presets } from "../src/models/generator/presets.ts";

/** The `bench` preset with seed 1, generated once into `dir` and reused: every benchmark uses it. */
export async function ensureBenchModel(dir: string): Promise<string> {
  const path = join(dir, "bench-s1.gguf");
  try {
    await access(path);
  } catch {
    console.error(`generating the bench model into ${path} ...`);
    await generateModel({ ...presets.bench, out: path, seed: 1, name: "hearth-bench" });
  }
  return path;
}
