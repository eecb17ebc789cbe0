import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { TestContext } from "node:test";
import type { Redis } from "ioredis";
import { startTcpProxy } from "../helpers/tcpProxy.ts";
import { createRedisClient, redisReady, type BreakerLogger, type RedisClientOptions } from "../../src/util/redis.ts";

/** The machine's Redis; tests never stop it (faults go through test/helpers/tcpProxy.ts). */
export const REDIS = { host: "127.0.0.1", port: 6379 } as const;

/** A key prefix no other test uses. */
export function testPrefix(name: string): string {
  return `hearth-test:${name}:${process.pid}:${randomBytes(4).toString("hex")}:`;
}

/** A ready client with Hearth's fault policy, to the real Redis or to a proxy's port. */
export async function connectRedis(port: number = REDIS.port, opts: Partial<RedisClientOptions> = {}): Promise<Redis> {
  const client = createRedisClient({ url: `redis://${REDIS.host}:${port}`, ...opts });
  assert.ok(await redisReady(client, 2000), `Redis at ${REDIS.host}:${port} is not ready`);
  return client;
}

/** Every key under `prefix`. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(cursor, "MATCH", `${escapeGlob(prefix)}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

export async function deleteKeysUnder(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) await client.del(...keys);
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}

/** A logger that keeps its lines. */
export function recordingLogger(): BreakerLogger & { lines: { level: "warn" | "info"; msg: string }[] } {
  const lines: { level: "warn" | "info"; msg: string }[] = [];
  return {
    lines,
    warn: (_obj, msg) => void lines.push({ level: "warn", msg }),
    info: (_obj, msg) => void lines.push({ level: "info", msg }),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `fn` until it returns true, every 20 ms, for at most `ms`. */
export async function eventually(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await sleep(20);
  }
  return false;
}

/**
 * Asserts every call took at most `boundMs`, give or take what the event loop itself lagged
 * meanwhile (a starved CPU delays every timer; that says nothing about the code under test).
 */
export function boundedCalls(boundMs: number) {
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  return {
    check(samples: readonly { ms: number }[], what: string): void {
      const slowest = Math.max(...samples.map((s) => s.ms));
      const allowance = boundMs + lag.max / 1e6;
      assert.ok(slowest <= allowance, `${what}: a call took ${slowest.toFixed(1)} ms (bound ${boundMs} ms, event loop lag ${(lag.max / 1e6).toFixed(1)} ms)`);
    },
    stop: () => lag.disable(),
  };
}

/**
 * A client whose connection goes through a TCP proxy the test can cut or stall, a direct client, and
 * a key prefix of the test's own; all removed when the test ends.
 */
export async function proxiedRedis(t: TestContext, name: string) {
  const proxy = await startTcpProxy(REDIS);
  const client = await connectRedis(proxy.port);
  const direct = await connectRedis();
  const prefix = testPrefix(name);
  t.after(async () => {
    client.disconnect();
    await proxy.close();
    await deleteKeysUnder(direct, prefix);
    direct.disconnect();
  });
  return { proxy, client, direct, prefix };
}
