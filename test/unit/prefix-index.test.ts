import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedPrefix } from "../../src/scheduler/chooseSlot.ts";
import { PrefixIndex } from "../../src/engine/llamacpp/PrefixIndex.ts";

/** A seeded generator (mulberry32): the same sequences every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Conversations branching off a few shared system prompts, as a chat server sees them. */
function sequences(count: number, next: () => number): number[][] {
  const roots = Array.from({ length: 4 }, () => Array.from({ length: 20 + Math.floor(next() * 60) }, () => Math.floor(next() * 50)));
  const all: number[][] = [];
  for (let i = 0; i < count; i++) {
    const base = next() < 0.5 && all.length > 0 ? all[Math.floor(next() * all.length)]! : roots[Math.floor(next() * roots.length)]!;
    const cut = Math.floor(next() * base.length);
    all.push([...base.slice(0, cut), ...Array.from({ length: 1 + Math.floor(next() * 80) }, () => Math.floor(next() * 50))]);
  }
  return all;
}

test("the index finds the longest shared start that a scan of every sequence finds, through adds and deletes", () => {
  const next = random(42);
  const block = 8;
  const index = new PrefixIndex(block);
  const held = new Map<string, number[]>();
  const all = sequences(600, next);
  for (const [i, tokens] of all.entries()) {
    index.add(String(i), tokens);
    held.set(String(i), tokens);
    if (held.size > 40) { // churn: the oldest go
      const oldest = held.keys().next().value!;
      index.delete(oldest);
      held.delete(oldest);
    }
    const prompt = all[Math.floor(next() * all.length)]!.concat([7, 7, 7]);
    const scan = Math.max(0, ...[...held.values()].map((t) => sharedPrefix(t, prompt)));
    const found = index.longest(prompt);
    if (scan < block) assert.equal(found, null, `nothing shares a block with prompt ${i}`);
    else {
      assert.equal(found?.shared, scan, `prompt ${i}`);
      assert.equal(sharedPrefix(held.get(found.key)!, prompt), scan);
    }
  }
  assert.equal(index.size, 40);
});

test("startsOf lists exactly the sequences a prompt starts with", () => {
  const index = new PrefixIndex(4);
  index.add("turn1", [1, 2, 3, 4, 5]);
  index.add("turn2", [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  index.add("other", [1, 2, 3, 9]);
  index.add("short", [1, 2]);
  assert.deepEqual(index.startsOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).sort(), ["short", "turn1", "turn2"]);
  index.delete("turn1");
  assert.deepEqual(index.startsOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).sort(), ["short", "turn2"]);
  assert.deepEqual(index.longest([1, 2, 3, 4, 5, 6, 0]), { key: "turn2", shared: 6 });
});
