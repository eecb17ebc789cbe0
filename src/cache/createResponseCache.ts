import type { Redis } from "ioredis";
import type { BreakerLogger, CircuitBreaker } from "../util/redis.ts";
import { MemoryCache, type MemoryCacheOptions } from "./MemoryCache.ts";
import { RedisCache } from "./RedisCache.ts";
import type { ResponseCache } from "./ResponseCache.ts";

export interface CreateResponseCacheOptions {
  /** Share the cache through this client (from `createRedisClient`); without it, this process's memory. */
  redis?: Redis;
  /** Redis key prefix. Defaults to "hearth:cache:". */
  prefix?: string;
  /** Bound of one value, in bytes, in Redis and in memory. Defaults to 1 MiB. */
  maxValueBytes?: number;
  /** Bound of the in-memory cache, in bytes. Defaults to 64 MiB. */
  memory?: Pick<MemoryCacheOptions, "maxBytes">;
  /** With Redis: keep serving from this process's memory while Redis is down. Defaults to false (bypass). */
  memoryFallback?: boolean;
  logger?: BreakerLogger;
  breaker?: CircuitBreaker;
}

/** The response cache Hearth serves with: in memory, or in Redis with the fault policy of util/redis.ts. */
export function createResponseCache(opts: CreateResponseCacheOptions = {}): ResponseCache {
  const memory = () => new MemoryCache({
    ...(opts.memory?.maxBytes !== undefined ? { maxBytes: opts.memory.maxBytes } : {}),
    ...(opts.maxValueBytes !== undefined ? { maxEntryBytes: opts.maxValueBytes } : {}),
  });
  if (!opts.redis) return memory();
  return new RedisCache({
    client: opts.redis,
    ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
    ...(opts.maxValueBytes !== undefined ? { maxValueBytes: opts.maxValueBytes } : {}),
    ...(opts.memoryFallback ? { fallback: memory() } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.breaker ? { breaker: opts.breaker } : {}),
  });
}
