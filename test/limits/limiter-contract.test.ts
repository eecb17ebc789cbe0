import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Redis } from "ioredis";
import { MemoryLimiter } from "../../src/limits/MemoryLimiter.ts";
import { RedisLimiter } from "../../src/limits/RedisLimiter.ts";
import type { RateLimiter } from "../../src/limits/types.ts";
import { connectRedis, deleteKeysUnder, keysUnder, sleep, testPrefix } from "./redisFixture.ts";

/** One implementation under the shared suite. */
interface Harness {
  make(opts?: { windowMs?: number }): RateLimiter;
  /** Lets `ms` pass, as the limiter sees time. */
  wait(ms: number): Promise<void>;
}

function memoryHarness(): Harness {
  let now = 1_000_000;
  return {
    make: (opts = {}) => new MemoryLimiter({ now: () => now, ...opts }),
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
      const prefix = testPrefix("limiter-contract");
      prefixes.push(prefix);
      return new RedisLimiter({ client: redis, prefix, ...opts });
    },
    wait: sleep,
  };
}

for (const [name, harness] of [["MemoryLimiter", memoryHarness], ["RedisLimiter", redisHarness]] as const) {
  describe(name, () => {
    test("rpm admits exactly rpm requests, then refuses with a Retry-After of at least 1 s", async () => {
      const limiter = harness().make();
      const key = { id: "k", rpm: 3 };
      const remaining: (number | undefined)[] = [];
      for (let i = 0; i < 3; i++) {
        const d = await limiter.acquire(key, 10);
        assert.equal(d.allowed, true);
        assert.ok(d.ticket);
        remaining.push(d.headers.remainingRequests);
      }
      assert.deepEqual(remaining, [2, 1, 0]);
      const refused = await limiter.acquire(key, 10);
      assert.equal(refused.allowed, false);
      assert.equal(refused.limit, "requests");
      assert.equal(refused.ticket, undefined);
      assert.ok(refused.retryAfterSeconds! >= 1 && refused.retryAfterSeconds! <= 60, `retry after ${refused.retryAfterSeconds}`);
      assert.equal(refused.retryAfterSeconds, Math.ceil(refused.retryAfterMs! / 1000));
      assert.equal(refused.headers.limitRequests, 3);
      assert.equal(refused.headers.remainingRequests, 0);
    });

    test("a refused request is allowed once its Retry-After has passed, not before", async () => {
      const h = harness();
      const limiter = h.make({ windowMs: 1000 });
      const key = { id: "k", rpm: 2 };
      assert.equal((await limiter.acquire(key, 1)).allowed, true);
      assert.equal((await limiter.acquire(key, 1)).allowed, true);
      const refused = await limiter.acquire(key, 1);
      assert.equal(refused.allowed, false);
      assert.ok(refused.retryAfterMs! > 0 && refused.retryAfterMs! <= 1000);
      assert.equal(refused.retryAfterSeconds, 1);
      await h.wait(Math.max(0, refused.retryAfterMs! - 200));
      assert.equal((await limiter.acquire(key, 1)).allowed, false, "allowed before Retry-After");
      await h.wait(200);
      assert.equal((await limiter.acquire(key, 1)).allowed, true, "refused after Retry-After");
    });

    test("tpm counts each request's estimated tokens, and a request larger than tpm is never allowed", async () => {
      const limiter = harness().make();
      const key = { id: "k", tpm: 100 };
      const first = await limiter.acquire(key, 60);
      assert.equal(first.allowed, true);
      assert.deepEqual([first.headers.limitTokens, first.headers.remainingTokens], [100, 40]);
      const refused = await limiter.acquire(key, 50);
      assert.equal(refused.allowed, false);
      assert.equal(refused.limit, "tokens");
      assert.ok(refused.retryAfterSeconds! >= 1);
      assert.equal((await limiter.acquire(key, 40)).headers.remainingTokens, 0);
      const tooLarge = await limiter.acquire({ id: "other", tpm: 100 }, 101);
      assert.equal(tooLarge.allowed, false);
      assert.equal(tooLarge.limit, "tokens");
      assert.equal(tooLarge.retryAfterSeconds, undefined, "it can never fit");
    });

    test("a tokens refusal waits for just enough of the oldest requests to leave the window", async () => {
      const h = harness();
      const limiter = h.make({ windowMs: 1500 });
      const key = { id: "k", tpm: 100 };
      for (let i = 0; i < 3; i++) {
        assert.equal((await limiter.acquire(key, 30)).allowed, true);
        if (i < 2) await h.wait(300);
      }
      // 90 counted; 50 more need 40 freed: the first two must leave, the second 1500 ms after it came.
      const refused = await limiter.acquire(key, 50);
      assert.equal(refused.limit, "tokens");
      assert.ok(refused.retryAfterMs! > 1000 && refused.retryAfterMs! <= 1200, `retry after ${refused.retryAfterMs} ms`);
      await h.wait(refused.retryAfterMs!);
      assert.equal((await limiter.acquire(key, 50)).allowed, true);
    });

    test("when several limits refuse, the one that frees up last is reported", async () => {
      const limiter = harness().make();
      const key = { id: "k", rpm: 1, tpm: 10, maxParallel: 1 };
      await limiter.acquire(key, 5);
      const refused = await limiter.acquire(key, 5);
      assert.equal(refused.limit, "requests");
      assert.ok(refused.retryAfterSeconds! >= 59);
      const never = await limiter.acquire(key, 50);
      assert.deepEqual([never.limit, never.retryAfterSeconds], ["tokens", undefined]);
    });

    test("release corrects the request's tokens to what it used, once", async () => {
      const limiter = harness().make();
      const key = { id: "k", tpm: 100 };
      const d = await limiter.acquire(key, 80);
      assert.equal((await limiter.acquire(key, 70)).allowed, false);
      await limiter.release(key.id, { ticket: d.ticket!, actualTokens: 30 });
      await limiter.release(key.id, { ticket: d.ticket!, actualTokens: 30 });
      const after = await limiter.acquire(key, 70);
      assert.equal(after.allowed, true);
      assert.equal(after.headers.remainingTokens, 0);
      assert.equal((await limiter.acquire(key, 1)).allowed, false);
    });

    test("maxParallel refuses while that many requests are in flight, and release frees a slot", async () => {
      const limiter = harness().make();
      const key = { id: "k", maxParallel: 2 };
      const a = await limiter.acquire(key, 1);
      assert.equal((await limiter.acquire(key, 1)).allowed, true);
      const refused = await limiter.acquire(key, 1);
      assert.deepEqual([refused.allowed, refused.limit, refused.retryAfterSeconds], [false, "parallel", 1]);
      await limiter.release(key.id, { ticket: a.ticket! });
      assert.equal((await limiter.acquire(key, 1)).allowed, true);
      assert.equal((await limiter.acquire(key, 1)).allowed, false);
    });

    test("a refused request counts for nothing", async () => {
      const limiter = harness().make();
      const key = { id: "k", rpm: 5, tpm: 100, maxParallel: 1 };
      const a = await limiter.acquire(key, 10);
      for (let i = 0; i < 3; i++) assert.equal((await limiter.acquire(key, 10)).limit, "parallel");
      await limiter.release(key.id, { ticket: a.ticket! });
      const b = await limiter.acquire(key, 10);
      assert.deepEqual([b.headers.remainingRequests, b.headers.remainingTokens], [3, 80]);
    });

    test("headers report each set limit, remaining counts and reset; keys are independent", async () => {
      const limiter = harness().make();
      const d = await limiter.acquire({ id: "a", rpm: 10, tpm: 1000 }, 100);
      assert.equal(d.headers.limitRequests, 10);
      assert.equal(d.headers.remainingRequests, 9);
      assert.equal(d.headers.limitTokens, 1000);
      assert.equal(d.headers.remainingTokens, 900);
      assert.ok(d.headers.resetRequestsSeconds! > 59 && d.headers.resetRequestsSeconds! <= 60);
      assert.ok(d.headers.resetTokensSeconds! > 59 && d.headers.resetTokensSeconds! <= 60);
      const other = await limiter.acquire({ id: "b", rpm: 10 }, 100);
      assert.equal(other.headers.remainingRequests, 9);
      assert.equal(other.headers.limitTokens, undefined);
      const unlimited = await limiter.acquire({ id: "c" }, 1_000_000);
      assert.deepEqual([unlimited.allowed, unlimited.headers], [true, {}]);
    });

    test("a limit of 0 refuses everything, with no Retry-After", async () => {
      const limiter = harness().make();
      for (const key of [{ id: "r", rpm: 0 }, { id: "p", maxParallel: 0 }]) {
        const d = await limiter.acquire(key, 1);
        assert.equal(d.allowed, false);
        assert.equal(d.retryAfterSeconds, undefined);
      }
    });
  });
}

describe("RedisLimiter storage", () => {
  test("every key it writes sits under its prefix and expires", async () => {
    const prefix = testPrefix("limiter-expiry");
    prefixes.push(prefix);
    const limiter = new RedisLimiter({ client: redis, prefix, windowMs: 5000, leaseMs: 20_000 });
    const d = await limiter.acquire({ id: "k", rpm: 10, tpm: 100, maxParallel: 3 }, 10);
    await limiter.release("k", { ticket: d.ticket!, actualTokens: 5 });
    await limiter.acquire({ id: "k", rpm: 10, tpm: 100, maxParallel: 3 }, 10);
    const keys = await keysUnder(redis, prefix);
    assert.deepEqual(keys.sort(), [`${prefix}{k}:log`, `${prefix}{k}:par`, `${prefix}{k}:tok`]);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      const max = key.endsWith(":par") ? 21_000 : 6000;
      assert.ok(ttl > 0 && ttl <= max, `${key} expires in ${ttl} ms`);
    }
  });
});
