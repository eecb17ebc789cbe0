import assert from "node:assert/strict";
import { test } from "node:test";
import { cacheKey } from "../../src/cache/cacheKey.ts";

const request = {
  model: "llama",
  messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }],
  temperature: 0,
  stop: ["\n"],
};

test("the key is a sha256 that does not depend on field order, at any depth", () => {
  const reordered = {
    stop: ["\n"],
    temperature: 0,
    messages: [{ content: "Hi", role: "user" }, { content: "Hello", role: "assistant" }],
    model: "llama",
  };
  assert.match(cacheKey(request), /^[0-9a-f]{64}$/);
  assert.equal(cacheKey(reordered), cacheKey(request));
});

test("any change to a value, or to the order of an array, changes the key", () => {
  const base = cacheKey(request);
  assert.notEqual(cacheKey({ ...request, temperature: 0.5 }), base);
  assert.notEqual(cacheKey({ ...request, model: "llama2" }), base);
  assert.notEqual(cacheKey({ ...request, messages: [...request.messages].reverse() }), base);
  assert.notEqual(cacheKey({ ...request, stop: "\n" }), base);
  assert.notEqual(cacheKey({ ...request, temperature: "0" }), base, "a string is not a number");
});

test("undefined members are left out, as JSON does", () => {
  assert.equal(cacheKey({ ...request, seed: undefined }), cacheKey(request));
  assert.notEqual(cacheKey({ ...request, seed: null }), cacheKey(request));
});

test("what JSON cannot carry is refused rather than dropped", () => {
  assert.throws(() => cacheKey({ n: 1n }), TypeError);
  assert.throws(() => cacheKey({ f: () => 1 }), TypeError);
  assert.throws(() => cacheKey({ m: new Map([["a", 1]]) }), TypeError);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => cacheKey(cyclic), TypeError);
  const shared = { a: 1 };
  assert.doesNotThrow(() => cacheKey([shared, shared]), "a repeated object is not a cycle");
});
