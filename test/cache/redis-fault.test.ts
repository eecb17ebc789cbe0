import assert from "node:assert/strict";
import { test } from "node:test";
import { createResponseCache } from "../../src/cache/createResponseCache.ts";
import { RedisCache } from "../../src/cache/RedisCache.ts";
import { CircuitBreaker } from "../../src/util/redis.ts";
import { boundedCalls, eventually, proxiedRedis, recordingLogger } from "../limits/redisFixture.ts";

const BOUND_MS = 100;

const setup = proxiedRedis;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

for (const fault of ["cut", "blackhole"] as const) {
  test(`Redis ${fault === "cut" ? "refusing connections" : "unresponsive"}: a get is a miss and a set is dropped, at once and without an error`, async (t) => {
    const { proxy, client, prefix } = await setup(t, `cache-${fault}`);
    const logger = recordingLogger();
    const cache = new RedisCache({ client, prefix, breaker: new CircuitBreaker({ name: "response cache", logger, cooldownMs: 200 }) });
    await cache.set("k", "v", 60);
    assert.equal(await cache.get("k"), "v");
    const bound = boundedCalls(BOUND_MS);
    t.after(bound.stop);
    proxy[fault]();
    const gets = [];
    const sets = [];
    for (let i = 0; i < 50; i++) {
      const got = await timed(() => cache.get("k"));
      assert.equal(got.value, null);
      gets.push(got);
      sets.push(await timed(() => cache.set(`k${i}`, "v", 60)));
    }
    bound.check(gets, "get");
    bound.check(sets, "set");
    const stats = cache.stats();
    assert.equal(stats.hits, 1);
    assert.equal(stats.misses, 50);
    assert.ok(stats.errors >= 1 && stats.errors <= 10, `${stats.errors} errors: Redis is not retried on every call`);
    assert.deepEqual(logger.lines.map((l) => l.level), ["warn"]);

    proxy.restore();
    assert.ok(await eventually(async () => (await cache.get("k")) === "v", 5000), "Redis is not used again");
    assert.deepEqual(logger.lines.map((l) => l.level), ["warn", "info"]);
  });
}

test("with a memory fallback, the cache keeps serving from memory while Redis is down", async (t) => {
  const { proxy, client, prefix } = await setup(t, "cache-memory-fallback");
  const cache = createResponseCache({ redis: client, prefix, memoryFallback: true });
  proxy.cut();
  await cache.set("k", "v", 60);
  await cache.set("k", "v", 60);
  await cache.set("k", "v", 60);
  assert.equal(await cache.get("k"), "v");
  assert.equal((await cache.get("other")), null);
});
