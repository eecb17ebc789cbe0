import assert from "node:assert/strict";
import { test } from "node:test";
import { UpstreamPool } from "../../src/serving/upstream/UpstreamPool.ts";
import { envLayer, resolveConfig } from "../../src/config/loadConfig.ts";

const targets = (n: number) => Array.from({ length: n }, (_, i) => ({ url: `http://10.0.0.${i + 1}:8000/v1`, model: "m", timeoutMs: 1000 }));

test("the least busy upstream takes the next request; tried ones are skipped", () => {
  const pool = new UpstreamPool(targets(3));
  const [u1, u2, u3] = pool.upstreams;
  pool.begin(u1!);
  pool.begin(u1!);
  pool.begin(u2!);
  assert.equal(pool.pick(new Set()), u3);
  assert.equal(pool.pick(new Set([u3!])), u2);
  assert.equal(pool.pick(new Set([u1!, u2!, u3!])), null);
});

test("a failed upstream is cooled down, doubling, and picked again when its time is up", () => {
  let now = 0;
  const pool = new UpstreamPool(targets(2), () => now);
  const [u1, u2] = pool.upstreams;
  pool.failed(u1!);
  assert.equal(pool.pick(new Set()), u2);
  now = 1000;
  pool.begin(u2!);
  assert.equal(pool.pick(new Set()), u1, "its 1 s cooldown is over and it is the least busy");
  pool.failed(u1!);
  now = 2999;
  assert.equal(pool.pick(new Set()), u2, "2 s the second time in a row");
  pool.succeeded(u1!);
  assert.equal(pool.pick(new Set()), u1);
});

test("with every upstream down, the one back soonest is still tried rather than none", () => {
  let now = 0;
  const pool = new UpstreamPool(targets(2), () => now);
  const [u1, u2] = pool.upstreams;
  pool.failed(u1!);
  pool.failed(u1!);
  pool.failed(u2!);
  assert.equal(pool.pick(new Set()), u2);
});

test("affinity keys stay on their upstream, and only the keys of an upstream that leaves move", () => {
  const pool = new UpstreamPool(targets(4));
  const keys = Array.from({ length: 200 }, (_, i) => `conversation ${i}`);
  const first = keys.map((k) => pool.pick(new Set(), k));
  assert.deepEqual(keys.map((k) => pool.pick(new Set(), k)), first, "stable");
  const spread = new Set(first.map((u) => u!.url));
  assert.equal(spread.size, 4, "keys spread over all upstreams");
  const gone = pool.upstreams[0]!;
  const moved = keys.map((k, i) => [first[i], pool.pick(new Set([gone]), k)] as const);
  for (const [before, after] of moved) if (before !== gone) assert.equal(after, before);
});

test("--upstream is a list: HEARTH_UPSTREAM is comma-separated", () => {
  const config = resolveConfig(envLayer({ HEARTH_UPSTREAM: "http://a:8000/v1, http://b:8000/v1", HEARTH_MODEL_NAME: "m" }));
  assert.deepEqual(config.model.upstreams, ["http://a:8000/v1", "http://b:8000/v1"]);
  assert.throws(() => resolveConfig({ model: { upstreams: ["ftp://x"] } }), /model\.upstreams/);
});
