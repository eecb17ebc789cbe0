import assert from "node:assert/strict";
import { test } from "node:test";
import { maxTokenBytes, minPromptTokens } from "../../src/engine/promptBound.ts";

test("a token stands for at most as many bytes as its longest piece takes in UTF-8, and at least 4", () => {
  assert.equal(maxTokenBytes({ model: "gpt2", tokens: ["a", "Ġthe", "ĠĠĠĠĠĠĠĠ"] }), 16, "Ġ is two UTF-8 bytes standing for one space");
  assert.equal(maxTokenBytes({ model: "llama", tokens: ["<0x0A>", "▁and"] }), 6);
  assert.equal(maxTokenBytes({ model: "gpt2", tokens: ["a", "b"] }), 4, "an unknown character of 4 bytes may be one token");
});

test("tokenizers that may drop text give no bound", () => {
  assert.equal(maxTokenBytes({ model: "bert", tokens: ["a"] }), undefined);
  assert.equal(maxTokenBytes({ model: "t5", tokens: ["a"] }), undefined);
  assert.equal(maxTokenBytes(undefined), undefined);
});

test("a text takes at least its UTF-8 bytes over K tokens; a chat counts its user messages only, trimmed", () => {
  assert.equal(minPromptTokens({ kind: "text", text: "é".repeat(10) }, 4), 5);
  assert.equal(minPromptTokens({ kind: "tokens", tokens: [1, 2, 3] }, 4), 3);
  const chat = minPromptTokens({
    kind: "chat",
    messages: [
      { role: "system", content: "x".repeat(1000) },
      { role: "user", content: `  \n${"y".repeat(40)}\t ` },
      { role: "assistant", content: "z".repeat(1000) },
      { role: "user", content: " ".repeat(10_000) },
    ],
  }, 4);
  assert.equal(chat, 10);
});

test("trimming a long run of spaces before a letter is linear, not quadratic", () => {
  const text = `${" ".repeat(2_000_000)}x${" ".repeat(2_000_000)}`;
  assert.equal(minPromptTokens({ kind: "chat", messages: [{ role: "user", content: text }] }, 4), 1);
});
