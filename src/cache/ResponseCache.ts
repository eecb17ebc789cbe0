/** A cache of whole responses, keyed by `cacheKey()` of the request. */
export interface ResponseCache {
  /** The value, or null on a miss. Never rejects: a fault is a miss. */
  get(key: string): Promise<Buffer | string | null>;
  /** Stores `value` for `ttlSeconds` (> 0). Never rejects: a fault drops the value. */
  set(key: string, value: Buffer | string, ttlSeconds: number): Promise<void>;
  stats(): CacheStats;
}

/** Counters since start; /metrics exposes them. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Values stored (not those refused as too large). */
  sets: number;
  /** Calls that failed or timed out on the store (each also counts as a miss, or as no set). */
  errors: number;
}

export function newCacheStats(): CacheStats {
  return { hits: 0, misses: 0, sets: 0, errors: 0 };
}

/** Bytes a value takes. */
export function valueBytes(value: Buffer | string): number {
  return typeof value === "string" ? Buffer.byteLength(value) : value.byteLength;
}
