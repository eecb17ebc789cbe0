/**
 * Per-key rate limits, as OpenAI applies them: requests per minute, tokens per minute (counted at
 * admission as prompt + max_tokens, then corrected to what the request really used), and, our
 * addition, requests in flight.
 */

/** One API key's limits. An unset limit is unlimited; 0 refuses everything. */
export interface RateLimitKey {
  /** A stable key id (a hash or a database id), never the secret itself: it is stored in Redis keys. */
  id: string;
  /** Requests accepted in any 60 s window. */
  rpm?: number;
  /** Tokens accepted in any 60 s window. */
  tpm?: number;
  /** Requests admitted and not yet released. */
  maxParallel?: number;
}

export type LimitName = "requests" | "tokens" | "parallel";

/**
 * What becomes OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers. Each is
 * undefined when the key has no such limit. Remaining counts include the request just admitted.
 * Reset is OpenAI's meaning: seconds until the limit is back to its initial state (the newest
 * counted request leaves the window), 0 when nothing is counted.
 */
export interface RateLimitHeaders {
  limitRequests?: number;
  remainingRequests?: number;
  resetRequestsSeconds?: number;
  limitTokens?: number;
  remainingTokens?: number;
  resetTokensSeconds?: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** When allowed: pass it to `release()` when the request ends. */
  ticket?: string;
  /** When refused: the limit that refused it (the one that frees up last, if several did). */
  limit?: LimitName;
  /**
   * When refused: whole seconds (≥ 1) after which the same request is allowed, if nothing else
   * is admitted meanwhile (the parallel limit, which frees when a request ends, says 1).
   * Undefined when it can never be allowed: more tokens than tpm, or a limit of 0.
   */
  retryAfterSeconds?: number;
  /** The same, in ms (the openai SDK honours a `retry-after-ms` header). */
  retryAfterMs?: number;
  headers: RateLimitHeaders;
  /** Which store decided: Redis (shared by every process) or this process's memory. */
  source: "redis" | "memory";
}

export interface RateLimitUsage {
  /** The ticket `acquire()` returned. */
  ticket: string;
  /** The tokens the request really used (prompt + completion); omitted: keep the admission estimate. */
  actualTokens?: number;
}

export interface RateLimiter {
  /** Admits a request of `tokens` estimated tokens (prompt + max_tokens) for `key`, or refuses it. */
  acquire(key: RateLimitKey, tokens: number): Promise<RateLimitDecision>;
  /**
   * The request ended: frees its parallel slot and sets its token count to what it really used,
   * if it is still in the window. Idempotent; an unknown ticket is ignored.
   */
  release(keyId: string, usage: RateLimitUsage): Promise<void>;
}

/** The window every limit counts over, in ms: OpenAI's "per minute". */
export const WINDOW_MS = 60_000;
/**
 * How long an admitted request holds its parallel slot if it is never released (a crashed
 * process), in ms: 10 minutes.
 */
export const LEASE_MS = 600_000;
