import { access } from "node:fs/promises";
import { cacheDir } from "../config/dataDir.ts";
import { join } from "node:path";

/** Bumped whenever the generator's output changes, so a stale cached demo model is not reused. */
const DEMO_VERSION = 1;
export const DEMO_MODEL_ID = "hearth-demo";

/**
 * The built-in demo model: the `tiny-llama3` preset (real Llama 3 tokenizer, random weights),
 * generated into the cache on first use and reused after.
 */
export async function ensureDemoModel(dir = cacheDir()): Promise<{ path: string; generated: boolean }> {
  const path = join(dir, "models", `${DEMO_MODEL_ID}-tiny-llama3-v${DEMO_VERSION}.gguf`);
  try {
    await access(path);
    return { path, generated: false };
  } catch {
    // Loaded only to generate: the generator's Llama 3 vocabulary costs about 110 MB resident.
    const [{ generateModel }, { presets }] = await Promise.all([import("./generator/generateModel.ts"), import("./generator/presets.ts")]);
    await generateModel({ ...presets["tiny-llama3"], out: path, seed: 0, name: DEMO_MODEL_ID });
    return { path, generated: true };
  }
}
