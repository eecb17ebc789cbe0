import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Redis } from "ioredis";
import { MemoryCache } from "../../src/cache/MemoryCache.ts";
import { RedisCache } from "../../src/cache/RedisCache.ts";
import type { ResponseCache } from "../../src/cache/ResponseCache.ts";
import { connectRedis, deleteKeysUnder, keysUnder, sleep, testPrefix } from "../limits/redisFixture.ts";

interface Harness {
  make(opts?: { maxValueBytes?: number }): ResponseCache;
  /** Lets `ms` pass, as the cache sees time. */
  wait(ms: number): Promise<void>;
}

function memoryHarness(): Harness {
  let now = 1000;
  return {
    make: (opts = {}) => new MemoryCache({ now: () => now, ...(opts.maxValueBytes ? { maxEntryBytes: opts.maxValueBytes } : {}) }),
    wait: async (ms) => { now += ms; },
  };
}

let redis: Redis;
const prefixes: string[] = [];
before(async () => { redis = await connectRedis(); });
after(async () => {
  for (const p of prefixes) await deleteKeysUnder(redis, p);
  redis.disconnect();
});

function redisHarness(): Harness {
  return {
    make: (opts = {}) => {
      const prefix = testPrefix("cache-contract");
      prefixes.push(prefix);
      return new RedisCache({ client: redis, prefix, ...opts });
    },
    wait: sleep,
  };
}

for (const [name, harness] of [["MemoryCache", memoryHarness], ["RedisCache", redisHarness]] as const) {
  describe(name, () => {
    test("a value set is got back with its type, and an unknown key is a miss", async () => {
      const cache = harness().make();
      await cache.set("text", "héllo", 60);
      await cache.set("bytes", Buffer.from([0, 1, 2, 255]), 60);
      assert.equal(await cache.get("text"), "héllo");
      assert.deepEqual(await cache.get("bytes"), Buffer.from([0, 1, 2, 255]));
      assert.equal(await cache.get("unknown"), null);
      assert.deepEqual(cache.stats(), { hits: 2, misses: 1, sets: 2, errors: 0 });
    });

    test("a set replaces the value", async () => {
      const cache = harness().make();
      await cache.set("k", "one", 60);
      await cache.set("k", "two", 60);
      assert.equal(await cache.get("k"), "two");
    });

    test("a value expires after its TTL", async () => {
      const h = harness();
      const cache = h.make();
      await cache.set("k", "v", 1);
      await h.wait(900);
      assert.equal(await cache.get("k"), "v");
      await h.wait(200);
      assert.equal(await cache.get("k"), null);
    });

    test("a TTL of 0 or less and a value over the size cap are not stored", async () => {
      const cache = harness().make({ maxValueBytes: 1000 });
      await cache.set("zero", "v", 0);
      await cache.set("negative", "v", -5);
      await cache.set("large", "x".repeat(2000), 60);
      for (const k of ["zero", "negative", "large"]) assert.equal(await cache.get(k), null, k);
      assert.equal(cache.stats().sets, 0);
    });
  });
}

test("the memory cache keeps within its byte bound, evicting the least recently used first", async () => {
  const cache = new MemoryCache({ maxBytes: 3 * (1000 + 64 + 1) });
  for (const k of ["a", "b", "c"]) await cache.set(k, "x".repeat(1000), 60);
  assert.ok(await cache.get("a"), "a is now the most recently used");
  await cache.set("d", "x".repeat(1000), 60);
  assert.equal(await cache.get("b"), null, "b was the least recently used");
  for (const k of ["a", "c", "d"]) assert.ok(await cache.get(k), k);
  assert.ok(cache.size.bytes <= 3 * 1065);
  for (let i = 0; i < 100; i++) await cache.set(`k${i}`, Buffer.alloc(500 + i), 60);
  assert.ok(cache.size.bytes <= 3 * 1065, `${cache.size.bytes} bytes held`);
});

test("the Redis cache stores under its prefix with an expiry", async () => {
  const prefix = testPrefix("cache-keys");
  prefixes.push(prefix);
  const cache = new RedisCache({ client: redis, prefix });
  await cache.set("k", "v", 30);
  assert.deepEqual(await keysUnder(redis, prefix), [`${prefix}k`]);
  const ttl = await redis.pttl(`${prefix}k`);
  assert.ok(ttl > 29_000 && ttl <= 30_000, `expires in ${ttl} ms`);
});

test("a value in Redis that Hearth did not write is a miss", async () => {
  const prefix = testPrefix("cache-foreign");
  prefixes.push(prefix);
  await redis.set(`${prefix}k`, "plain", "EX", 30);
  assert.equal(await new RedisCache({ client: redis, prefix }).get("k"), null);
});
