import assert from "node:assert/strict";
import { test } from "node:test";
import { planEviction, type Resident } from "../../src/models/budget/planEviction.ts";

const r = (id: string, bytes: number, lastUsedMs: number, evictable = true): Resident => ({ id, bytes, lastUsedMs, evictable });

test("nothing is unloaded while the new model fits", () => {
  assert.deepEqual(planEviction(100, [r("a", 40, 1)], 60), { fits: true, victims: [] });
});

test("idle models go least recently used first, only as many as needed", () => {
  const residents = [r("new", 30, 3), r("old", 30, 1), r("mid", 30, 2)];
  assert.deepEqual(planEviction(100, residents, 35), { fits: true, victims: ["old"] });
  assert.deepEqual(planEviction(100, residents, 65), { fits: true, victims: ["old", "mid"] });
});

test("busy, loading and pinned models are never chosen; if room cannot be made nothing is unloaded", () => {
  const residents = [r("busy", 50, 0, false), r("idle", 30, 1)];
  assert.deepEqual(planEviction(100, residents, 60), { fits: false, freeableBytes: 50 });
  assert.deepEqual(planEviction(100, residents, 50), { fits: true, victims: ["idle"] });
});

test("a model larger than the whole budget never fits", () => {
  assert.deepEqual(planEviction(100, [], 101), { fits: false, freeableBytes: 100 });
});
