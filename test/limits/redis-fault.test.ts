import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { FallbackLimiter } from "../../src/limits/FallbackLimiter.ts";
import { MemoryLimiter } from "../../src/limits/MemoryLimiter.ts";
import { RedisLimiter } from "../../src/limits/RedisLimiter.ts";
import type { RateLimitKey } from "../../src/limits/types.ts";
import { CircuitBreaker, createRedisClient } from "../../src/util/redis.ts";
import { startTcpProxy } from "../helpers/tcpProxy.ts";
import { startFaultProxy } from "./faultProxy.ts";
import { boundedCalls, connectRedis, deleteKeysUnder, eventually, proxiedRedis, recordingLogger, REDIS, sleep, testPrefix } from "./redisFixture.ts";

const BOUND_MS = 100;

/** A FallbackLimiter whose Redis connection goes through a proxy the test can cut or stall. */
async function setup(t: TestContext, name: string) {
  const redis = await proxiedRedis(t, name);
  const logger = recordingLogger();
  const breaker = new CircuitBreaker({ name: "rate limiter", logger, cooldownMs: 200 });
  const limiter = new FallbackLimiter({ redis: new RedisLimiter({ client: redis.client, prefix: redis.prefix }), local: new MemoryLimiter(), breaker });
  return { ...redis, logger, breaker, limiter };
}

/** One admitted-and-released request, timed. */
async function call(limiter: FallbackLimiter, key: RateLimitKey) {
  const start = performance.now();
  const d = await limiter.acquire(key, 1);
  const ms = performance.now() - start;
  if (d.ticket) await limiter.release(key.id, { ticket: d.ticket });
  return { ms, source: d.source };
}

test("Redis cut mid-load: calls answer within 100 ms from the local limiter, one log line; restored: Redis counts again", async (t) => {
  const { proxy, direct, prefix, logger, limiter } = await setup(t, "fault-cut");
  const key = { id: "k", rpm: 1_000_000, maxParallel: 1000 };
  type Phase = "before" | "cut" | "restored";
  let phase = "before" as Phase;
  let stop = false;
  const samples: { phase: Phase; ms: number; source: string }[] = [];
  const worker = async () => {
    while (!stop) {
      const p = phase;
      samples.push({ phase: p, ...(await call(limiter, key)) });
      await sleep(2);
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  const bound = boundedCalls(BOUND_MS);
  t.after(bound.stop);
  await sleep(100);
  phase = "cut";
  proxy.cut();
  await sleep(500);
  const cut = samples.filter((s) => s.phase === "cut");
  assert.ok(cut.length > 20, `only ${cut.length} calls while cut`);
  bound.check(cut, "Redis cut");
  assert.equal(cut.at(-1)!.source, "memory");
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn"], "one line when the breaker opens");

  const logKey = `${prefix}{k}:log`;
  const countBefore = await direct.zcard(logKey);
  phase = "restored";
  proxy.restore();
  assert.ok(await eventually(async () => samples.at(-1)?.source === "redis", 5000), "Redis is not used again");
  stop = true;
  await Promise.all(workers);
  assert.ok((await direct.zcard(logKey)) > countBefore, "Redis's window did not move after the restore");
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn", "info"], "one line when it closes");
});

test("while Redis is down the process still enforces the limits on its own", async (t) => {
  const { proxy, limiter } = await setup(t, "fault-local");
  proxy.cut();
  const key = { id: "k", rpm: 3 };
  const decisions = [];
  for (let i = 0; i < 4; i++) decisions.push(await limiter.acquire(key, 1));
  assert.deepEqual(decisions.map((d) => [d.allowed, d.source]), [[true, "memory"], [true, "memory"], [true, "memory"], [false, "memory"]]);
  assert.equal(decisions[3]!.limit, "requests");
});

test("Redis unresponsive: each call stays bounded, the client's queues and RSS stay flat, and Redis is used again after", async (t) => {
  const { proxy, client, logger, limiter } = await setup(t, "fault-blackhole");
  const key = { id: "k", rpm: 1_000_000, tpm: 1_000_000_000, maxParallel: 1000 };
  const bound = boundedCalls(BOUND_MS);
  t.after(bound.stop);
  proxy.blackhole();
  const first = [];
  for (let i = 0; i < 100; i++) first.push(await call(limiter, key));
  bound.check(first, "Redis unresponsive, first 100 calls");
  const rssBefore = process.memoryUsage().rss;
  const later = [];
  // About 1.5 s: several half-open probes meet the stalled Redis.
  for (let i = 0; i < 600; i++) {
    later.push(await call(limiter, key));
    if (i % 4 === 0) await sleep(5);
  }
  const growth = process.memoryUsage().rss - rssBefore;
  bound.check(later, "Redis unresponsive, 600 more calls");
  assert.ok(later.every((s) => s.source === "memory"));
  assert.ok(client.commandQueue.length <= 2, `${client.commandQueue.length} commands queued on the dead connection`);
  assert.ok(growth < 32 * 1024 * 1024, `RSS grew by ${growth} bytes`);
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn"]);

  proxy.restore();
  assert.ok(await eventually(async () => (await call(limiter, key)).source === "redis", 5000), "Redis is not used again");
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn", "info"]);
});

test("Redis refusing connections from the start: the local limiter answers at once", async (t) => {
  const proxy = await startTcpProxy(REDIS);
  proxy.cut();
  const client = createRedisClient({ url: `redis://${REDIS.host}:${proxy.port}` });
  t.after(async () => {
    client.disconnect();
    await proxy.close();
  });
  const logger = recordingLogger();
  const limiter = new FallbackLimiter({
    redis: new RedisLimiter({ client, prefix: testPrefix("fault-start") }),
    local: new MemoryLimiter(),
    breaker: new CircuitBreaker({ name: "rate limiter", logger }),
  });
  const bound = boundedCalls(BOUND_MS);
  t.after(bound.stop);
  const samples = [];
  for (let i = 0; i < 20; i++) samples.push(await call(limiter, { id: "k", rpm: 100 }));
  assert.ok(samples.every((s) => s.source === "memory"));
  bound.check(samples, "Redis refusing connections");
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn"]);
});

test("Redis hung on an open connection: calls stay bounded, the dead connection is dropped, and Redis is used again after", async (t) => {
  const proxy = await startFaultProxy(REDIS);
  const client = await connectRedis(proxy.port);
  const prefix = testPrefix("fault-stall");
  const logger = recordingLogger();
  const limiter = new FallbackLimiter({
    redis: new RedisLimiter({ client, prefix }),
    local: new MemoryLimiter(),
    breaker: new CircuitBreaker({ name: "rate limiter", logger, cooldownMs: 200 }),
  });
  const direct = await connectRedis();
  t.after(async () => {
    client.disconnect();
    await proxy.close();
    await deleteKeysUnder(direct, prefix);
    direct.disconnect();
  });
  const key = { id: "k", rpm: 1_000_000, maxParallel: 1000 };
  assert.equal((await call(limiter, key)).source, "redis");
  const bound = boundedCalls(BOUND_MS);
  t.after(bound.stop);
  proxy.stall();
  const samples = [];
  for (let i = 0; i < 300; i++) {
    samples.push(await call(limiter, key));
    if (i % 2 === 0) await sleep(5);
  }
  bound.check(samples, "Redis hung");
  assert.ok(client.commandQueue.length <= 8, `${client.commandQueue.length} commands queued on the hung connection`);
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn"]);
  proxy.forward();
  assert.ok(await eventually(async () => (await call(limiter, key)).source === "redis", 5000), "Redis is not used again");
  assert.deepEqual(logger.lines.map((l) => l.level), ["warn", "info"]);
});

test("an acquire that Redis answers too late is served locally and undone in Redis", async (t) => {
  const proxy = await startFaultProxy(REDIS);
  const client = await connectRedis(proxy.port);
  const prefix = testPrefix("fault-slow");
  const limiter = new FallbackLimiter({
    redis: new RedisLimiter({ client, prefix }),
    local: new MemoryLimiter(),
    breaker: new CircuitBreaker({ name: "rate limiter" }),
  });
  const direct = await connectRedis();
  t.after(async () => {
    client.disconnect();
    await proxy.close();
    await deleteKeysUnder(direct, prefix);
    direct.disconnect();
  });
  const key = { id: "k", rpm: 10, maxParallel: 1 };
  proxy.delay(80);
  const late = await limiter.acquire(key, 1);
  assert.deepEqual([late.allowed, late.source], [true, "memory"]);
  // The acquire runs in Redis 80 ms late, then the undo right after it.
  assert.ok(await eventually(async () => (await direct.exists(`${prefix}{k}:log`)) === 1, 1000), "the late acquire never ran");
  assert.ok(await eventually(async () => (await direct.zcard(`${prefix}{k}:log`)) === 0 && (await direct.zcard(`${prefix}{k}:par`)) === 0, 1000), "the late acquire was not undone");
  proxy.forward();
  const next = await limiter.acquire(key, 1);
  assert.deepEqual([next.allowed, next.source, next.headers.remainingRequests], [true, "redis", 9]);
});

test("a release that fails while Redis is down is sent once Redis is back, freeing the slot", async (t) => {
  const { proxy, limiter } = await setup(t, "fault-release");
  const key = { id: "k", maxParallel: 1 };
  const held = await limiter.acquire(key, 1);
  assert.equal(held.source, "redis");
  proxy.cut();
  await limiter.release(key.id, { ticket: held.ticket! });
  assert.equal(limiter.pendingReleases, 1);
  proxy.restore();
  const freed = await eventually(async () => {
    const d = await limiter.acquire(key, 1);
    if (d.ticket?.startsWith("m:")) await limiter.release(key.id, { ticket: d.ticket });
    return d.source === "redis" && d.allowed;
  }, 5000);
  assert.ok(freed, "the slot taken before the outage is still held in Redis");
  assert.equal(limiter.pendingReleases, 0);
});
