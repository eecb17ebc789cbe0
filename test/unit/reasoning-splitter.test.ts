import assert from "node:assert/strict";
import { test } from "node:test";
import { ReasoningSplitter, type ReasoningSyntax, type Split } from "../../src/engine/ReasoningSplitter.ts";

const qwen: ReasoningSyntax = { open: ["<think>"], close: ["</think>"], drop: [] };
const harmony: ReasoningSyntax = {
  open: ["<|channel|>analysis<|message|>"],
  close: ["<|end|>"],
  drop: ["<|start|>assistant", "<|channel|>final<|message|>", "<|channel|>final", "<|channel|>commentary"],
};

/** Feeds the pieces one by one, then flushes; returns the joined split. */
function run(syntax: ReasoningSyntax, pieces: string[], startInReasoning = false): Split {
  const s = new ReasoningSplitter(syntax, startInReasoning);
  const out = { reasoning: "", content: "" };
  for (const p of [...pieces.map((x) => s.push(x)), s.flush()]) {
    out.reasoning += p.reasoning;
    out.content += p.content;
  }
  return out;
}

/** Every way of cutting the text in pieces of 1..4 characters gives the same split. */
function everyCut(syntax: ReasoningSyntax, text: string, startInReasoning = false): Split {
  const whole = run(syntax, [text], startInReasoning);
  for (const size of [1, 2, 3, 4, 7]) {
    const pieces = [];
    for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
    assert.deepEqual(run(syntax, pieces, startInReasoning), whole, `pieces of ${size}`);
  }
  return whole;
}

test("Qwen3: the thinking block is reasoning without its tags or framing newlines; the answer is content", () => {
  assert.deepEqual(everyCut(qwen, "<think>\nFirst, add.\n\nThen check.\n</think>\n\nThe sum is 4."), { reasoning: "First, add.\n\nThen check.", content: "The sum is 4." });
});

test("a reply that never thinks is all content, untouched", () => {
  assert.deepEqual(everyCut(qwen, "  Just <b>text</b> with <thin and </thi"), { reasoning: "", content: "  Just <b>text</b> with <thin and </thi" });
});

test("a thinking block cut by max_tokens leaves content empty and keeps the reasoning so far", () => {
  assert.deepEqual(everyCut(qwen, "<think>\nStep one, step tw"), { reasoning: "Step one, step tw", content: "" });
  assert.deepEqual(everyCut(qwen, "<think>\nhalf a tag </thi"), { reasoning: "half a tag </thi", content: "" });
});

test("a prompt that opens the block (DeepSeek R1's template, a prefill) starts in reasoning", () => {
  assert.deepEqual(everyCut(qwen, "thinking\n</think>answer", true), { reasoning: "thinking", content: "answer" });
});

test("gpt-oss: the analysis channel is reasoning, the final channel's header is dropped", () => {
  const text = "<|channel|>analysis<|message|>User wants X.<|end|><|start|>assistant<|channel|>final<|message|>Here is X.";
  assert.deepEqual(everyCut(harmony, text), { reasoning: "User wants X.", content: "Here is X." });
});

test("gpt-oss: the longer header wins over the shorter one it starts with, even at the very end", () => {
  assert.deepEqual(everyCut(harmony, "<|channel|>final<|message|>"), { reasoning: "", content: "" });
  assert.deepEqual(everyCut(harmony, "<|channel|>final"), { reasoning: "", content: "" });
  assert.deepEqual(everyCut(harmony, "<|channel|>commentary to=functions.f"), { reasoning: "", content: " to=functions.f" });
});

test("several blocks: each goes where it belongs", () => {
  assert.deepEqual(everyCut(qwen, "<think>a</think>b<think>c</think>d"), { reasoning: "ac", content: "bd" });
});
