import assert from "node:assert/strict";
import { test } from "node:test";
import { CallTimeoutError, CircuitBreaker, withDeadline } from "../../src/util/redis.ts";
import { recordingLogger } from "./redisFixture.ts";

function breaker(over: { failureThreshold?: number; timeoutMs?: number } = {}) {
  let now = 0;
  const logger = recordingLogger();
  const b = new CircuitBreaker({ name: "test", logger, cooldownMs: 1000, now: () => now, ...over });
  const calls = { redis: 0 };
  const ok = () => b.run(async () => { calls.redis++; return "redis"; }, () => "local");
  const fail = () => b.run(async () => { calls.redis++; throw new Error("down"); }, () => "local");
  return { b, logger, calls, ok, fail, advance: (ms: number) => { now += ms; } };
}

test("the breaker opens after failureThreshold failures in a row, logging once, and then skips Redis", async () => {
  const { b, logger, calls, ok, fail } = breaker({ failureThreshold: 3 });
  assert.equal(await fail(), "local");
  assert.equal(await fail(), "local");
  assert.equal(await ok(), "redis", "a success resets the count");
  for (let i = 0; i < 3; i++) await fail();
  assert.equal(b.state, "open");
  const before = calls.redis;
  for (let i = 0; i < 10; i++) assert.equal(await ok(), "local");
  assert.equal(calls.redis, before, "Redis is not called while open");
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn"]);
});

test("after the cooldown one call probes Redis while the others keep to the fallback; success closes it, logging once", async () => {
  const { b, logger, calls, advance } = breaker({ failureThreshold: 1 });
  await b.run(async () => { throw new Error("down"); }, () => "local");
  advance(1000);
  let answer!: (v: string) => void;
  const probe = b.run(() => new Promise<string>((resolve) => { calls.redis++; answer = resolve; }), () => "local");
  assert.equal(b.state, "half-open");
  assert.equal(await b.run(async () => "redis", () => "local"), "local", "only one probe at a time");
  answer("redis");
  assert.equal(await probe, "redis");
  assert.equal(b.state, "closed");
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn", "info"]);
});

test("a failed probe opens the breaker again for another cooldown, silently", async () => {
  const { b, logger, advance, fail, ok } = breaker({ failureThreshold: 1 });
  await fail();
  advance(1000);
  await fail();
  assert.equal(b.state, "open");
  advance(999);
  assert.equal(await ok(), "local");
  advance(1);
  assert.equal(await ok(), "redis");
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn", "info"]);
  assert.equal(b.opens, 1);
});

test("a call that outlives the deadline takes the fallback with a CallTimeoutError", async () => {
  const { b } = breaker({ timeoutMs: 20 });
  let seen: unknown;
  const start = performance.now();
  const value = await b.run(() => new Promise<string>(() => {}), (err) => { seen = err; return "local"; });
  assert.equal(value, "local");
  assert.ok(seen instanceof CallTimeoutError);
  assert.ok(performance.now() - start < 100);
});

test("withDeadline ignores a late rejection", async () => {
  let reject!: (e: Error) => void;
  const late = new Promise<never>((_, r) => { reject = r; });
  await assert.rejects(withDeadline(late, 5), CallTimeoutError);
  reject(new Error("late")); // must not surface as an unhandled rejection
  await new Promise((resolve) => setImmediate(resolve));
});
