import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryLimiter } from "../../src/limits/MemoryLimiter.ts";

function limiter(opts: { leaseMs?: number } = {}) {
  let now = 1_000_000;
  const l = new MemoryLimiter({ now: () => now, ...opts });
  return { l, advance: (ms: number) => { now += ms; }, at: () => now };
}

test("a request counts for exactly 60 s after its admission", () => {
  const { l, advance } = limiter();
  const key = { id: "k", rpm: 1 };
  assert.equal(l.acquireSync(key, 1).allowed, true);
  advance(59_999);
  const refused = l.acquireSync(key, 1);
  assert.deepEqual([refused.allowed, refused.retryAfterMs, refused.retryAfterSeconds], [false, 1, 1]);
  advance(1);
  assert.equal(l.acquireSync(key, 1).allowed, true);
});

test("no 60 s window ever holds more than rpm admitted requests, whatever the arrivals", () => {
  const { l, advance, at } = limiter();
  const rpm = 7;
  const admitted: number[] = [];
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 2000; i++) {
    advance(Math.floor(random() * 3000));
    if (l.acquireSync({ id: "k", rpm }, 1).allowed) admitted.push(at());
  }
  for (let i = 0; i + rpm < admitted.length; i++) {
    assert.ok(admitted[i + rpm]! - admitted[i]! >= 60_000, `${rpm + 1} admissions within ${admitted[i + rpm]! - admitted[i]!} ms`);
  }
  assert.ok(admitted.length > 200, "the limiter admits up to its limit");
});

test("keys with nothing counted are forgotten", () => {
  const { l, advance } = limiter();
  for (let i = 0; i < 100; i++) l.acquireSync({ id: `k${i}`, rpm: 10 }, 1);
  const unlimited = l.acquireSync({ id: "free" }, 1);
  assert.equal(l.size, 100, "a key without limits holds nothing");
  const parallel = l.acquireSync({ id: "p", maxParallel: 1 }, 1);
  l.releaseSync("p", { ticket: parallel.ticket! });
  l.releaseSync("free", { ticket: unlimited.ticket! });
  assert.equal(l.size, 100);
  advance(60_000);
  l.acquireSync({ id: "other" }, 1);
  assert.equal(l.size, 0);
});

test("a slot never released is freed when its lease runs out", () => {
  const { l, advance } = limiter({ leaseMs: 5000 });
  const key = { id: "k", maxParallel: 1 };
  l.acquireSync(key, 1);
  advance(4999);
  assert.equal(l.acquireSync(key, 1).allowed, false);
  advance(1);
  assert.equal(l.acquireSync(key, 1).allowed, true);
});

test("bad arguments are a TypeError, not a decision", () => {
  const { l } = limiter();
  assert.throws(() => l.acquireSync({ id: "k", rpm: -1 }, 1), TypeError);
  assert.throws(() => l.acquireSync({ id: "k", tpm: 1.5 }, 1), TypeError);
  assert.throws(() => l.acquireSync({ id: "k" }, Number.NaN), TypeError);
  assert.throws(() => l.acquireSync({ id: "" }, 1), TypeError);
});
