import assert from "node:assert/strict";
import { after, test } from "node:test";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import llama3Tokenizer from "llama3-tokenizer-js";
import { IncrementalDetokenizer } from "../../src/engine/IncrementalDetokenizer.ts";
import { testModel } from "../helpers/models.ts";

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 1 });
after(() => llama.dispose());

const samples = [
  "Hello world!",
  "The quick brown fox jumps over the lazy dog.",
  "  leading spaces, trailing spaces  ",
  "numbers 1234567 and 3.14159, dates 2026-11-27",
  "héllo wörld, naïve café; 日本語のテキスト; emoji 🦙🔥",
  "def f(x):\n    return x ** 2  # code\n\n\ttabs\r\nCRLF",
  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "I'm you're they'll we've DON'T",
];

test("the generated Llama 3 vocabulary tokenizes exactly as the Llama 3 tokenizer does", async () => {
  const model = await llama.loadModel({ modelPath: await testModel("tiny-llama3"), vocabOnly: true });
  try {
    for (const text of samples) {
      const ours = model.tokenize(text, true);
      const reference = llama3Tokenizer.encode(text, { bos: false, eos: false });
      assert.deepEqual([...ours], reference, `tokens differ for ${JSON.stringify(text)}`);
      assert.equal(model.detokenize(ours, true), text);
    }
  } finally {
    await model.dispose();
  }
});

test("the byte-level vocabulary has one token per byte and the Llama 3 special tokens", async () => {
  const model = await llama.loadModel({ modelPath: await testModel("tiny"), vocabOnly: true });
  try {
    const text = "héllo 日本";
    assert.deepEqual([...model.tokenize(text, false)], [...Buffer.from(text, "utf8")]);
    const special = model.tokenize("<|eot_id|>", true);
    assert.equal(special.length, 1);
    assert.ok(model.isSpecialToken(special[0]));
    assert.equal(model.tokens.eos, special[0]);
  } finally {
    await model.dispose();
  }
});

test("llama.cpp's detokenizer with byte tokens streams whole characters only", async () => {
  const model = await llama.loadModel({ modelPath: await testModel("tiny"), vocabOnly: true });
  try {
    const text = "naïve 日本語 🦙!";
    const detokenizer = new IncrementalDetokenizer((tokens, previous) => model.detokenize(tokens as never, false, previous as never));
    const pieces = [...model.tokenize(text, false)].map((t) => detokenizer.push(t).text).filter((p) => p !== "");
    assert.deepEqual(pieces, [...text]);
  } finally {
    await model.dispose();
  }
});
