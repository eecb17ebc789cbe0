import { access } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateModel } from "../../src/models/generator/generateModel.ts";
import { presets, type PresetName, type WeightType } from "../../src/models/generator/presets.ts";

/**
 * A generated model shared by the test files of one run. Generation is deterministic and written
 * through a temporary file, so files that ask for the same model at once get the same bytes.
 */
export async function testModel(preset: Exclude<PresetName, "bench"> = "tiny", seed = 7, type?: WeightType): Promise<string> {
  const path = join(tmpdir(), `hearth-test-${preset}-s${seed}${type ? `-${type}` : ""}-${process.env.npm_package_version ?? "dev"}.gguf`);
  try {
    await access(path);
  } catch {
    await generateModel({ ...presets[preset], ...(type ? { type } : {}), out: path, seed, name: `hearth-test-${preset}` });
  }
  return path;
}
