import type { Command } from "commander";
import { sha256File } from "../util/sha256File.ts";
import { isPresetName, isWeightType, presetNames, presets, weightTypes, type ModelShape } from "../models/generator/presets.ts";

interface GenModelFlags {
  preset: string;
  out: string;
  seed: string;
  type?: string;
  layers?: string;
  width?: string;
  heads?: string;
  kvHeads?: string;
  ff?: string;
  ctx?: string;
}

export function registerGenModel(program: Command): void {
  program
    .command("gen-model")
    .description("write a GGUF with deterministic random weights and a real family tokenizer and template (for tests and benchmarks)")
    .option("--preset <name>", `shape preset: ${presetNames.join(", ")}`, "tiny")
    .requiredOption("--out <file>", "where to write the .gguf file")
    .option("--seed <n>", "seed for the weights; the same seed and options give the same bytes", "0")
    .option("--type <type>", `weight type: ${weightTypes.join(", ")} (q4_0 and q4_k_m mix tensor types as llama-quantize does)`)
    .option("--layers <n>", "transformer blocks")
    .option("--width <n>", "embedding width")
    .option("--heads <n>", "attention heads")
    .option("--kv-heads <n>", "key/value heads (grouped-query attention)")
    .option("--ff <n>", "feed-forward width")
    .option("--ctx <n>", "trained context length written to the file")
    .action(async (flags: GenModelFlags) => {
      if (!isPresetName(flags.preset)) throw new Error(`unknown preset '${flags.preset}'; choose one of ${presetNames.join(", ")}`);
      const shape: ModelShape = { ...presets[flags.preset] };
      const num = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got '${v}'`);
        return n;
      };
      const overrides: Partial<ModelShape> = {
        layers: num(flags.layers, "layers"), width: num(flags.width, "width"), heads: num(flags.heads, "heads"),
        kvHeads: num(flags.kvHeads, "kv-heads"), ff: num(flags.ff, "ff"), contextLength: num(flags.ctx, "ctx"),
      };
      for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (shape as unknown as Record<string, unknown>)[k] = v;
      if (flags.type !== undefined) {
        if (!isWeightType(flags.type)) throw new Error(`--type must be one of ${weightTypes.join(", ")}, got '${flags.type}'`);
        shape.type = flags.type;
      }
      const seed = num(flags.seed, "seed") ?? 0;
      // Imported here: the generator's Llama 3 vocabulary costs every other command (serve too) about 110 MB.
      const { generateModel } = await import("../models/generator/generateModel.ts");
      const started = performance.now();
      const result = await generateModel({ ...shape, out: flags.out, seed, name: `hearth-${flags.preset}` });
      const ms = performance.now() - started;
      console.log(`wrote ${result.path}: ${(result.bytes / 1e6).toFixed(1)} MB, ${(result.parameters / 1e6).toFixed(1)}M parameters, vocabulary ${result.vocabSize}, ${ms.toFixed(0)} ms`);
      console.log(`sha256 ${await sha256File(result.path)}`);
    });
}
