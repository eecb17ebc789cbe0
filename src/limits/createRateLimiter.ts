import type { Redis } from "ioredis";
import { CircuitBreaker, type BreakerLogger } from "../util/redis.ts";
import { FallbackLimiter } from "./FallbackLimiter.ts";
import { MemoryLimiter } from "./MemoryLimiter.ts";
import { RedisLimiter } from "./RedisLimiter.ts";
import type { RateLimiter } from "./types.ts";

export interface CreateRateLimiterOptions {
  /** Shared limits through this client (from `createRedisClient`); without it, this process's memory. */
  redis?: Redis;
  /** Redis key prefix. Defaults to "hearth:ratelimit:". */
  prefix?: string;
  logger?: BreakerLogger;
  /** Defaults to a breaker named "rate limiter" with CircuitBreaker's defaults. */
  breaker?: CircuitBreaker;
}

/** The limiter Hearth serves with: in memory, or Redis with the memory limiter as its fallback. */
export function createRateLimiter(opts: CreateRateLimiterOptions = {}): RateLimiter {
  const local = new MemoryLimiter();
  if (!opts.redis) return local;
  return new FallbackLimiter({
    redis: new RedisLimiter({ client: opts.redis, ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}) }),
    local,
    breaker: opts.breaker ?? new CircuitBreaker({ name: "rate limiter", ...(opts.logger ? { logger: opts.logger } : {}) }),
  });
}
