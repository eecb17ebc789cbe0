import { LRUCache } from "lru-cache";
import { newCacheStats, valueBytes, type CacheStats, type ResponseCache } from "./ResponseCache.ts";

export interface MemoryCacheOptions {
  /** Bytes all entries may take together (values and keys). Defaults to 64 MiB. */
  maxBytes?: number;
  /** Bytes one entry may take; larger values are not stored. Defaults to 1 MiB. */
  maxEntryBytes?: number;
  /** Clock, in ms, for TTLs. Defaults to `performance.now`. */
  now?: () => number;
}

export const MEMORY_CACHE_DEFAULTS = {
  maxBytes: 64 * 1024 * 1024, // 64 MiB
  maxEntryBytes: 1024 * 1024, // 1 MiB
} as const;

/** Per-entry overhead counted besides the key and value (lru-cache's slots, the JS objects). */
const ENTRY_OVERHEAD = 64;

/** This process's response cache: least recently used entries go first once `maxBytes` is reached. */
export class MemoryCache implements ResponseCache {
  readonly #lru: LRUCache<string, Buffer | string>;
  readonly #stats = newCacheStats();

  constructor(opts: MemoryCacheOptions = {}) {
    const maxBytes = opts.maxBytes ?? MEMORY_CACHE_DEFAULTS.maxBytes;
    this.#lru = new LRUCache<string, Buffer | string>({
      maxSize: maxBytes,
      maxEntrySize: Math.min(maxBytes, opts.maxEntryBytes ?? MEMORY_CACHE_DEFAULTS.maxEntryBytes),
      sizeCalculation: (value, key) => valueBytes(value) + Buffer.byteLength(key) + ENTRY_OVERHEAD,
      // An injected clock is read on every check: lru-cache would otherwise keep one reading for 1 real ms.
      ...(opts.now ? { perf: { now: opts.now }, ttlResolution: 0 } : {}),
    });
  }

  /** Entries held, and the bytes they count for. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.#lru.size, bytes: this.#lru.calculatedSize };
  }

  async get(key: string): Promise<Buffer | string | null> {
    return this.getSync(key);
  }

  getSync(key: string): Buffer | string | null {
    const value = this.#lru.get(key);
    if (value === undefined) {
      this.#stats.misses++;
      return null;
    }
    this.#stats.hits++;
    return value;
  }

  async set(key: string, value: Buffer | string, ttlSeconds: number): Promise<void> {
    this.setSync(key, value, ttlSeconds);
  }

  setSync(key: string, value: Buffer | string, ttlSeconds: number): void {
    if (!(ttlSeconds > 0)) return void this.#lru.delete(key);
    const status: LRUCache.Status<string, Buffer | string> = {};
    this.#lru.set(key, value, { ttl: Math.ceil(ttlSeconds * 1000), status });
    if (status.set === "add" || status.set === "replace" || status.set === "update") this.#stats.sets++;
  }

  stats(): CacheStats {
    return { ...this.#stats };
  }
}
