import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { ACQUIRE_LUA, RELEASE_LUA } from "./luaScripts.ts";
import { LIMIT_CODES, toDecision, validateAcquire } from "./toDecision.ts";
import { LEASE_MS, WINDOW_MS, type RateLimitDecision, type RateLimiter, type RateLimitKey, type RateLimitUsage } from "./types.ts";

export interface RedisLimiterOptions {
  /** A client from `createRedisClient` (util/redis.ts); the limiter does not own it. */
  client: Redis;
  /** Prefix of every key. Defaults to "hearth:ratelimit:". */
  prefix?: string;
  /** Window, in ms. Defaults to 60000 (per minute); shorter only in tests. */
  windowMs?: number;
  /** Parallel slot lease, in ms. Defaults to 600000 (10 minutes). */
  leaseMs?: number;
}

/** Redis tickets start with "r:" so a wrapper can tell which store issued one. */
export const REDIS_TICKET_PREFIX = "r:";

const ACQUIRE = "hearthRateLimitAcquire";
const RELEASE = "hearthRateLimitRelease";

type ScriptClient = Redis & {
  [ACQUIRE](log: string, tok: string, par: string, ...args: (string | number)[]): Promise<number[]>;
  [RELEASE](log: string, tok: string, par: string, ...args: (string | number)[]): Promise<number>;
};

/**
 * Rate limits shared by every process that uses the same Redis and prefix.
 *
 * The algorithm is a sliding window log: each admitted request is an entry stamped with its
 * admission time and tokens; a request is admitted if the entries of the last 60 s, plus it, stay
 * within rpm and tpm. Unlike a fixed window (up to 2× rpm across a boundary) or GCRA / a token
 * bucket with a burst of rpm (rpm + 1 within 60/rpm seconds after a full burst), no 60 s window
 * ever holds more than rpm accepted requests, and Retry-After is exact: the moment the entry that
 * blocks leaves the window. The cost is one entry per request in the window (O(rpm) per key).
 */
export class RedisLimiter implements RateLimiter {
  readonly #client: ScriptClient;
  readonly #prefix: string;
  readonly #windowMs: number;
  readonly #leaseMs: number;

  constructor(opts: RedisLimiterOptions) {
    this.#prefix = opts.prefix ?? "hearth:ratelimit:";
    this.#windowMs = opts.windowMs ?? WINDOW_MS;
    this.#leaseMs = opts.leaseMs ?? LEASE_MS;
    // defineCommand loads the script by SHA (EVALSHA, then EVAL once if Redis lost it).
    opts.client.defineCommand(ACQUIRE, { numberOfKeys: 3, lua: ACQUIRE_LUA });
    opts.client.defineCommand(RELEASE, { numberOfKeys: 3, lua: RELEASE_LUA });
    this.#client = opts.client as ScriptClient;
  }

  /** A new ticket, for `acquire(key, tokens, ticket)`. */
  static newTicket(): string {
    return REDIS_TICKET_PREFIX + randomUUID();
  }

  /**
   * `ticket` lets a caller that gives up waiting still refer to the request (see
   * FallbackLimiter); by default a new one.
   */
  async acquire(key: RateLimitKey, tokens: number, ticket = RedisLimiter.newTicket()): Promise<RateLimitDecision> {
    validateAcquire(key, tokens);
    const reply = await this.#client[ACQUIRE](
      ...this.#keys(key.id),
      key.rpm ?? -1, key.tpm ?? -1, key.maxParallel ?? -1, tokens, ticket, this.#windowMs, this.#leaseMs,
    );
    const [allowed, hit, wait, count, sum, reset] = reply.map(Number) as [number, number, number, number, number, number];
    const limit = LIMIT_CODES[hit];
    return toDecision(key, {
      allowed: allowed === 1,
      ...(limit ? { limit } : {}),
      ...(allowed !== 1 && wait >= 0 ? { retryMs: wait } : {}),
      count,
      tokens: sum,
      resetMs: reset,
    }, ticket, "redis");
  }

  async release(keyId: string, usage: RateLimitUsage): Promise<void> {
    const actual = usage.actualTokens !== undefined && Number.isFinite(usage.actualTokens) ? Math.max(0, Math.round(usage.actualTokens)) : "";
    await this.#client[RELEASE](...this.#keys(keyId), usage.ticket, actual, "0");
  }

  /** Undoes an acquire: the request leaves the window and its slot. */
  async forget(keyId: string, ticket: string): Promise<void> {
    await this.#client[RELEASE](...this.#keys(keyId), ticket, "", "1");
  }

  #keys(id: string): [string, string, string] {
    const base = `${this.#prefix}{${id}}:`;
    return [`${base}log`, `${base}tok`, `${base}par`];
  }
}
