import assert from "node:assert/strict";
import { test } from "node:test";
import type { LlamaModel, TokenBias } from "node-llama-cpp";
import { ACCEPT, REJECT, utf8Run } from "../../src/engine/utf8Automaton.ts";
import { pieceBytes } from "../../src/engine/llamacpp/pieceBytes.ts";
import { BOOST, Utf8Bans } from "../../src/engine/llamacpp/Utf8Guard.ts";
import { Utf8Vocabulary } from "../../src/engine/llamacpp/Utf8Vocabulary.ts";

/** Whether `bytes` are valid UTF-8 so far (an unfinished last character allowed), and whether they end between characters. */
function decoderSays(bytes: readonly number[]): { valid: boolean; whole: boolean } {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes), { stream: true });
  } catch {
    return { valid: false, whole: false };
  }
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
    return { valid: true, whole: true };
  } catch {
    return { valid: true, whole: false };
  }
}

/** What node-llama-cpp 3.21.1 hands llama.cpp for a TokenBias: its `_biases`, iterated. */
const biasesOf = (bias: TokenBias) => [...(bias as unknown as { _biases: Iterable<[number, number]> })._biases].map(([t, b]) => [t, b]);
const fakeModel = { tokenizer: {} } as unknown as LlamaModel;

/** A small deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("the automaton agrees with a fatal TextDecoder on every two-byte sequence and on random longer ones", () => {
  const check = (bytes: number[]) => {
    const s = utf8Run(ACCEPT, bytes);
    const { valid, whole } = decoderSays(bytes);
    assert.equal(s !== REJECT, valid, `valid: ${bytes.map((b) => b.toString(16))}`);
    assert.equal(s === ACCEPT, whole, `whole: ${bytes.map((b) => b.toString(16))}`);
  };
  for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) check([a, b]);
  const next = random(1);
  // Mostly high bytes: that is where the ranges are.
  const byte = () => (next() < 0.2 ? Math.floor(next() * 0x80) : 0x80 + Math.floor(next() * 0x80));
  for (let i = 0; i < 100_000; i++) check(Array.from({ length: 1 + Math.floor(next() * 6) }, byte));
});

/** A `tiny`-like vocabulary: the 256 bytes, a few special tokens (no bytes), and some multi-byte tokens. */
const multi = [[0xc3, 0xa9], [0xe6, 0x97], [0xa5, 0x20], [0x20, 0xf0], [0x41, 0xc0], [0x80, 0x80], [0x9f, 0xa6, 0x99], [0xed, 0x9f]];
const vocab: (number[] | null)[] = [...Array.from({ length: 256 }, (_, b) => [b]), null, null, null, ...multi];
const table = new Utf8Vocabulary(vocab.length, (t) => vocab[t]!);

test("a token may come exactly where its bytes keep the text valid UTF-8; special tokens only between characters", () => {
  // Prefixes that reach every state of the automaton, and some twice.
  const prefixes = [[], [0x41], [0xc3], [0xe6], [0xe6, 0x97], [0xe0], [0xed], [0xf0], [0xf0, 0x9f], [0xf0, 0x9f, 0xa6], [0xf1], [0xf4], [0xf4, 0x8f]];
  for (const prefix of prefixes) {
    const state = utf8Run(ACCEPT, prefix);
    assert.notEqual(state, REJECT);
    for (let t = 0; t < vocab.length; t++) {
      const bytes = vocab[t]!;
      const expected = bytes === null ? state === ACCEPT : decoderSays([...prefix, ...bytes]).valid;
      assert.equal(table.allowed(state, t), expected, `token ${t} (${bytes?.map((b) => b.toString(16))}) after ${prefix.map((b) => b.toString(16))}`);
    }
  }
  // Between characters: the 64 continuation bytes, the 13 bytes UTF-8 never uses, and the tokens that start or go wrong with them.
  assert.equal(table.banned(ACCEPT).length, 64 + 13 + 4);
});

test("a random walk over the allowed tokens always writes valid UTF-8, and every state has a way on", () => {
  const next = random(7);
  let state = ACCEPT;
  const bytes: number[] = [];
  for (let step = 0; step < 5000; step++) {
    const allowed = Array.from({ length: vocab.length }, (_, t) => t).filter((t) => table.allowed(state, t));
    assert.ok(allowed.length > 0, `a way on from state ${state}`);
    const t = allowed[Math.floor(next() * allowed.length)]!;
    bytes.push(...vocab[t] ?? []);
    state = table.next(state, t);
    const { valid, whole } = decoderSays(bytes);
    assert.ok(valid, `valid after ${step + 1} tokens`);
    assert.equal(state === ACCEPT, whole);
  }
});

test("a lead byte whose continuations the vocabulary lacks is banned: nothing could finish its character", () => {
  // No tokens for 0x80-0x9F: ED (a surrogate-free 80-9F next) and F4 (80-8F next) lead nowhere; E0 (A0-BF next) still does.
  const bytes = Array.from({ length: 256 }, (_, b) => b).filter((b) => b < 0x80 || b > 0x9f);
  const t = new Utf8Vocabulary(bytes.length, (i) => [bytes[i]!]);
  const banned = new Set([...t.banned(ACCEPT)].map((i) => bytes[i]));
  assert.ok(banned.has(0xed) && banned.has(0xf4));
  assert.ok(!banned.has(0xe0) && !banned.has(0xe6) && !banned.has(0xf0));
});

test("a vocabulary of whole-character pieces has nothing to guard", () => {
  const t = new Utf8Vocabulary(3, () => null);
  assert.equal(t.active, false);
  assert.equal(t.banned(ACCEPT).length, 0);
  const bans = new Utf8Bans(fakeModel, t);
  assert.equal(bans.guard().idle, true);
  assert.equal(bans.guard({ logitBias: { "1": 5 } }).idle, false, "a logit_bias still needs a bias");
});

test("GPT-2 byte-level pieces and SentencePiece byte tokens give their bytes; text pieces and special tokens give none", () => {
  const gpt2 = pieceBytes({ model: "gpt2", tokens: ["Ġ", "Ã©", "<|eot_id|>", "æĹ", "ĊĊ"], token_type: [1, 1, 3, 1, 1] });
  assert.deepEqual([...gpt2(0)!], [0x20]);
  assert.deepEqual([...gpt2(1)!], [0xc3, 0xa9]);
  assert.equal(gpt2(2), null);
  assert.deepEqual([...gpt2(3)!], [0xe6, 0x97]);
  assert.deepEqual([...gpt2(4)!], [0x0a, 0x0a]);
  const spm = pieceBytes({ model: "llama", tokens: ["<0xE6>", "▁hello", "<s>", "<0x41>"], token_type: [6, 1, 3, 1] });
  assert.deepEqual([...spm(0)!], [0xe6]);
  assert.equal(spm(1), null);
  assert.equal(spm(2), null);
  assert.equal(spm(3), null, "a normal token that only looks like a byte token is text");
});

test("between characters a guard bans what may not come, keeping the client's logit_bias for the rest; it follows the bytes", () => {
  const bans = new Utf8Bans(fakeModel, table);
  const guard = bans.guard({ logitBias: { "65": 3, "128": 50, "256": -100 } });
  const between = biasesOf(guard.bias());
  // The client's biases first (0x80 = 128 may not come here, so its +50 goes), then every ban.
  assert.deepEqual(between.slice(0, 2), [[65, 3], [256, -100]]);
  assert.deepEqual(between.slice(2), [...table.banned(ACCEPT)].map((t) => [t, -Infinity]));
  guard.accept(0xe6);
  assert.equal(guard.midCharacter, true);
  guard.accept(0x97);
  guard.accept(0xa5);
  assert.equal(guard.midCharacter, false);
  assert.equal(guard.bias(), guard.bias(), "made once per state");
  assert.equal(bans.guard().bias(), bans.guard().bias(), "shared by requests without a logit_bias");
});

test("inside a character the few tokens that may come are raised far above the rest, unless penalties could lower them back", () => {
  const bans = new Utf8Bans(fakeModel, table);
  const inside = utf8Run(ACCEPT, [0xe6]);
  const permitted = [...table.permitted(inside)];
  assert.ok(permitted.length > 0 && permitted.every((t) => (vocab[t]?.[0] ?? 0) >> 6 === 2), "only tokens that start with a continuation byte");
  const guard = bans.guard({ logitBias: { "65": 3, "128": 50 } });
  guard.accept(0xe6);
  const boosted = biasesOf(guard.bias());
  // 'A' may not come here: its bias goes; 0x80 may, with its +50 on top of the boost.
  assert.deepEqual(boosted[0], [128, BOOST + 50]);
  assert.deepEqual(boosted.slice(1), permitted.filter((t) => t !== 128).map((t) => [t, BOOST]));
  const penalized = bans.guard({ logitBias: { "128": 50 }, frequencyPenalty: 0.5 });
  penalized.accept(0xe6);
  const banned = biasesOf(penalized.bias());
  assert.deepEqual(banned, [[128, 50], ...[...table.banned(inside)].map((t) => [t, -Infinity])]);
});

test("without the vocabulary's pieces nothing is banned, and a client's logit_bias still applies", () => {
  const guard = new Utf8Bans(fakeModel, new Utf8Vocabulary(0, () => null)).guard({ logitBias: { "42": -100 } });
  assert.deepEqual(biasesOf(guard.bias()), [[42, -100]]);
  guard.accept(42);
  assert.equal(guard.midCharacter, false);
});
