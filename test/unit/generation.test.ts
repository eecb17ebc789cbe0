import assert from "node:assert/strict";
import { test } from "node:test";
import { Generation } from "../../src/engine/Generation.ts";
import { IncrementalDetokenizer } from "../../src/engine/IncrementalDetokenizer.ts";

// A byte-level detokenizer like the `tiny` model's: token id = byte value, 999 = end of turn.
const bytes = (tokens: readonly number[]) => Buffer.from(tokens.filter((t) => t < 256)).toString("utf8");
const utf8 = (s: string) => [...Buffer.from(s, "utf8")];

test("a character split over byte tokens is released whole, on its last byte", () => {
  const d = new IncrementalDetokenizer(bytes);
  const [a, b, c] = utf8("日");
  assert.equal(d.push(a!).text, "");
  assert.equal(d.push(b!).text, "");
  assert.deepEqual(d.push(c!), { text: "日", tokens: 3 });
});

test("bytes that can never complete a character are released as U+FFFD, not held forever", () => {
  const d = new IncrementalDetokenizer(bytes);
  const held = [0xe6, 0xe6, 0xe6].map((t) => d.push(t).text).join("");
  const released = d.push(0xe6).text;
  assert.equal(held, "");
  assert.ok(released.includes("\uFFFD"));
  assert.equal(d.push(0x41).text, "A");
});

test("max tokens cutting a character short ends with length and drops the unfinished character, not a U+FFFD", () => {
  const g = new Generation({ detokenize: bytes, isEndToken: (t) => t === 999, stop: [], maxTokens: 3, midCharacter: () => true });
  assert.equal(g.accept(0x68), "h");
  assert.equal(g.accept(0xe6), "");
  assert.equal(g.accept(0x97), "");
  assert.equal(g.finishReason, "length");
  assert.equal(g.completionTokens, 3);
});

test("a U+FFFD the model generated whole is released at a cut like any character", () => {
  const g = new Generation({ detokenize: bytes, isEndToken: (t) => t === 999, stop: [], maxTokens: 4, midCharacter: () => false });
  const text = [0x68, ...utf8("\uFFFD")].map((t) => g.accept(t)).join("");
  assert.equal(text, "h\uFFFD");
  assert.equal(g.finishReason, "length");
});

test("an end token finishes with stop and counts as a completion token", () => {
  const g = new Generation({ detokenize: bytes, isEndToken: (t) => t === 999, stop: [], maxTokens: 10 });
  const text = [...utf8("ok"), 999].map((t) => g.accept(t)).join("");
  assert.equal(text, "ok");
  assert.equal(g.finishReason, "stop");
  assert.equal(g.completionTokens, 3);
});

test("a stop string ends generation and is not returned", () => {
  const g = new Generation({ detokenize: bytes, isEndToken: () => false, stop: ["lo w"], maxTokens: 100 });
  let text = "";
  for (const t of utf8("hello world")) {
    text += g.accept(t);
    if (g.finishReason) break;
  }
  assert.equal(text, "hel");
  assert.equal(g.finishReason, "stop");
  assert.equal(g.completionTokens, 7);
});

test("a stop string completed by the last allowed token still counts as stop", () => {
  const g = new Generation({ detokenize: bytes, isEndToken: () => false, stop: ["ab"], maxTokens: 2 });
  assert.equal(g.accept(0x61), "");
  assert.equal(g.accept(0x62), "");
  assert.equal(g.finishReason, "stop");
});
