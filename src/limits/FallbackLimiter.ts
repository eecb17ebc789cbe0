import type { CircuitBreaker } from "../util/redis.ts";
import { MEMORY_TICKET_PREFIX, type MemoryLimiter } from "./MemoryLimiter.ts";
import { RedisLimiter } from "./RedisLimiter.ts";
import { validateAcquire } from "./toDecision.ts";
import type { RateLimitDecision, RateLimiter, RateLimitKey, RateLimitUsage } from "./types.ts";

export interface FallbackLimiterOptions {
  redis: RedisLimiter;
  /** This process's limiter, used while Redis is down or slow. */
  local: MemoryLimiter;
  breaker: CircuitBreaker;
  /** Releases kept to send to Redis once it is back. Defaults to 10000; beyond, the oldest are dropped (their leases expire). */
  maxPendingReleases?: number;
}

/**
 * Redis limits with this process's own limits as the fallback. The policy while Redis is down or
 * slow is neither fail-open nor fail-closed: each process enforces every key's limits on its own
 * (so N processes may admit up to N times a limit between them), and every call still answers
 * within the breaker's deadline. See CircuitBreaker for when Redis is tried again.
 *
 * A request admitted by one store is released to that store: a Redis ticket whose release fails
 * is kept (bounded) and sent again once Redis answers, so a short outage does not hold a key's
 * parallel slots until their leases run out.
 */
export class FallbackLimiter implements RateLimiter {
  readonly #redis: RedisLimiter;
  readonly #local: MemoryLimiter;
  readonly #breaker: CircuitBreaker;
  readonly #maxPending: number;
  #pending: { keyId: string; usage: RateLimitUsage }[] = [];

  constructor(opts: FallbackLimiterOptions) {
    this.#redis = opts.redis;
    this.#local = opts.local;
    this.#breaker = opts.breaker;
    this.#maxPending = opts.maxPendingReleases ?? 10_000;
  }

  /** Redis releases waiting for Redis to come back. */
  get pendingReleases(): number {
    return this.#pending.length;
  }

  async acquire(key: RateLimitKey, tokens: number): Promise<RateLimitDecision> {
    validateAcquire(key, tokens); // a bad argument is the caller's fault, not Redis's
    const ticket = RedisLimiter.newTicket();
    return this.#breaker.run(
      async () => {
        const decision = await this.#redis.acquire(key, tokens, ticket);
        if (this.#pending.length > 0) this.#flushPending();
        return decision;
      },
      (err) => {
        // A failed call may still have been counted (an answer that came too late): undo it,
        // without waiting. If the connection is down this fails at once.
        if (err !== undefined) this.#redis.forget(key.id, ticket).catch(() => {});
        return this.#local.acquireSync(key, tokens);
      },
    );
  }

  async release(keyId: string, usage: RateLimitUsage): Promise<void> {
    if (usage.ticket.startsWith(MEMORY_TICKET_PREFIX)) return this.#local.releaseSync(keyId, usage);
    return this.#breaker.run(() => this.#redis.release(keyId, usage), () => this.#keep(keyId, usage));
  }

  #keep(keyId: string, usage: RateLimitUsage): void {
    this.#pending.push({ keyId, usage });
    if (this.#pending.length > this.#maxPending) this.#pending.splice(0, this.#pending.length - this.#maxPending);
  }

  /** Sends the kept releases (idempotent in Redis), without waiting; a failed one is kept again. */
  #flushPending(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const { keyId, usage } of pending) {
      this.#redis.release(keyId, usage).catch(() => this.#keep(keyId, usage));
    }
  }
}
