import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Redis } from "ioredis";
import { RedisLimiter } from "../../src/limits/RedisLimiter.ts";
import type { RateLimitKey } from "../../src/limits/types.ts";
import { connectRedis, deleteKeysUnder, testPrefix } from "./redisFixture.ts";

// Two limiters on two connections stand for two Hearth processes sharing one Redis.
let a: Redis;
let b: Redis;
const prefix = testPrefix("shared-limit");
// A long command timeout: these races send 120 scripts at once, which on a busy machine outlast the
// production 50 ms (what a timeout does is tested in redis-fault.test.ts).
before(async () => { [a, b] = await Promise.all([connectRedis(undefined, { commandTimeoutMs: 5000 }), connectRedis(undefined, { commandTimeoutMs: 5000 })]); });
after(async () => {
  await deleteKeysUnder(a, prefix);
  a.disconnect();
  b.disconnect();
});

async function race(key: RateLimitKey, perProcess: number, tokens = 1) {
  const limiters = [new RedisLimiter({ client: a, prefix }), new RedisLimiter({ client: b, prefix })];
  const decisions = await Promise.all(limiters.flatMap((l) => Array.from({ length: perProcess }, () => l.acquire(key, tokens))));
  return decisions.filter((d) => d.allowed).length;
}

test("two processes acquiring at once admit exactly rpm requests between them", async () => {
  assert.equal(await race({ id: "rpm", rpm: 50 }, 60), 50);
});

test("two processes acquiring at once admit exactly tpm tokens between them", async () => {
  assert.equal(await race({ id: "tpm", tpm: 700 }, 60, 10), 70);
});

test("two processes acquiring at once admit exactly maxParallel requests between them", async () => {
  assert.equal(await race({ id: "par", maxParallel: 7 }, 40), 7);
});

test("a release from one process frees the slot for the other", async () => {
  const one = new RedisLimiter({ client: a, prefix });
  const two = new RedisLimiter({ client: b, prefix });
  const key = { id: "handover", maxParallel: 1, tpm: 100 };
  const d = await one.acquire(key, 100);
  assert.equal((await two.acquire(key, 1)).allowed, false);
  await one.release(key.id, { ticket: d.ticket!, actualTokens: 40 });
  const next = await two.acquire(key, 60);
  assert.equal(next.allowed, true);
  assert.equal(next.headers.remainingTokens, 0);
});
