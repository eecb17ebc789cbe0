import type { LimitName, RateLimitDecision, RateLimitKey } from "./types.ts";

/**
 * What a store reports for one acquire, the same from the memory store and the Redis script:
 * the state of the key's window after the request was admitted (or not).
 */
export interface WindowOutcome {
  allowed: boolean;
  /** When refused: which limit. */
  limit?: LimitName;
  /** When refused: ms until it would be allowed; undefined when never. */
  retryMs?: number;
  /** Requests counted in the window. */
  count: number;
  /** Tokens counted in the window. */
  tokens: number;
  /** ms until the newest counted request leaves the window; 0 when none is counted. */
  resetMs: number;
}

export const LIMIT_CODES: readonly (LimitName | undefined)[] = [undefined, "requests", "tokens", "parallel"];

/** Throws a TypeError for a programming error: limits and token counts are non-negative integers. */
export function validateAcquire(key: RateLimitKey, tokens: number): void {
  if (typeof key.id !== "string" || key.id === "") throw new TypeError("rate limit key id must be a non-empty string");
  for (const name of ["rpm", "tpm", "maxParallel"] as const) {
    const v = key[name];
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) throw new TypeError(`rate limit ${name} must be a non-negative integer, got ${v}`);
  }
  if (!(Number.isSafeInteger(tokens) && tokens >= 0)) throw new TypeError(`rate limit tokens must be a non-negative integer, got ${tokens}`);
}

export function toDecision(key: RateLimitKey, o: WindowOutcome, ticket: string, source: RateLimitDecision["source"]): RateLimitDecision {
  const reset = o.resetMs > 0 ? o.resetMs / 1000 : 0;
  const headers: RateLimitDecision["headers"] = {};
  if (key.rpm !== undefined) {
    headers.limitRequests = key.rpm;
    headers.remainingRequests = Math.max(0, key.rpm - o.count);
    headers.resetRequestsSeconds = reset;
  }
  if (key.tpm !== undefined) {
    headers.limitTokens = key.tpm;
    headers.remainingTokens = Math.max(0, key.tpm - o.tokens);
    headers.resetTokensSeconds = o.tokens > 0 ? reset : 0;
  }
  if (o.allowed) return { allowed: true, ticket, headers, source };
  const decision: RateLimitDecision = { allowed: false, headers, source };
  if (o.limit !== undefined) decision.limit = o.limit;
  if (o.retryMs !== undefined) {
    decision.retryAfterMs = Math.max(1, Math.ceil(o.retryMs));
    decision.retryAfterSeconds = Math.max(1, Math.ceil(o.retryMs / 1000));
  }
  return decision;
}
