import type { Redis } from "ioredis";
import { CircuitBreaker, type BreakerLogger } from "../util/redis.ts";
import { newCacheStats, valueBytes, type CacheStats, type ResponseCache } from "./ResponseCache.ts";

export interface RedisCacheOptions {
  /** A client from `createRedisClient` (util/redis.ts); the cache does not own it. */
  client: Redis;
  /** Prefix of every key. Defaults to "hearth:cache:". */
  prefix?: string;
  /** Values larger than this are not stored, in bytes. Defaults to 1 MiB. */
  maxValueBytes?: number;
  /** Used while Redis is down or slow; without one, a get is a miss and a set is dropped. */
  fallback?: ResponseCache;
  logger?: BreakerLogger;
  /** Defaults to a breaker named "response cache" with CircuitBreaker's defaults. */
  breaker?: CircuitBreaker;
}

export const REDIS_CACHE_DEFAULTS = {
  prefix: "hearth:cache:",
  maxValueBytes: 1024 * 1024, // 1 MiB
} as const;

// The first byte of a stored value says whether it was a string or bytes.
const STRING_TAG = 0x73; // "s"
const BYTES_TAG = 0x62; // "b"

/**
 * The response cache shared by every process on the same Redis: `SET key value EX ttl`. Every
 * call goes through a circuit breaker (util/redis.ts): while Redis is down or slow, a get is a
 * miss (or the fallback's answer) within the breaker's deadline and a set is dropped, never an
 * error or a wait.
 */
export class RedisCache implements ResponseCache {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #maxValueBytes: number;
  readonly #fallback: ResponseCache | undefined;
  readonly #breaker: CircuitBreaker;
  readonly #stats = newCacheStats();

  constructor(opts: RedisCacheOptions) {
    this.#client = opts.client;
    this.#prefix = opts.prefix ?? REDIS_CACHE_DEFAULTS.prefix;
    this.#maxValueBytes = opts.maxValueBytes ?? REDIS_CACHE_DEFAULTS.maxValueBytes;
    this.#fallback = opts.fallback;
    this.#breaker = opts.breaker ?? new CircuitBreaker({ name: "response cache", ...(opts.logger ? { logger: opts.logger } : {}) });
  }

  async get(key: string): Promise<Buffer | string | null> {
    const value = await this.#breaker.run(
      async () => decode(await this.#client.getBuffer(this.#prefix + key)),
      (err) => {
        if (err !== undefined) this.#stats.errors++;
        return this.#fallback ? this.#fallback.get(key) : null;
      },
    );
    if (value === null) this.#stats.misses++;
    else this.#stats.hits++;
    return value;
  }

  async set(key: string, value: Buffer | string, ttlSeconds: number): Promise<void> {
    if (!(ttlSeconds > 0) || valueBytes(value) > this.#maxValueBytes) return;
    await this.#breaker.run(
      async () => {
        await this.#client.set(this.#prefix + key, encode(value), "EX", Math.ceil(ttlSeconds));
        this.#stats.sets++;
      },
      async (err) => {
        if (err !== undefined) this.#stats.errors++;
        await this.#fallback?.set(key, value, ttlSeconds);
      },
    );
  }

  stats(): CacheStats {
    return { ...this.#stats };
  }
}

function encode(value: Buffer | string): Buffer {
  return typeof value === "string"
    ? Buffer.concat([Buffer.of(STRING_TAG), Buffer.from(value)])
    : Buffer.concat([Buffer.of(BYTES_TAG), value]);
}

/** null for a missing value, and for one Hearth did not write. */
function decode(raw: Buffer | null): Buffer | string | null {
  if (raw === null || raw.length === 0) return null;
  if (raw[0] === STRING_TAG) return raw.toString("utf8", 1);
  if (raw[0] === BYTES_TAG) return raw.subarray(1);
  return null;
}
