/** A model that holds memory now: loaded, loading, or being unloaded. */
export interface Resident {
  id: string;
  bytes: number;
  /** Loaded, idle, not pinned: may be unloaded to make room. */
  evictable: boolean;
  /** When it last served a request (ms). */
  lastUsedMs: number;
}

export type EvictionPlan =
  | { fits: true; victims: string[] }
  /** What could be freed at most, when even that is not enough. */
  | { fits: false; freeableBytes: number };

/**
 * Which idle models to unload, least recently used first, so that `neededBytes` more fit in the
 * budget. Models that are loading, pinned or serving are never chosen; if unloading every other
 * idle model would still not make room, nothing is unloaded.
 */
export function planEviction(budgetBytes: number, residents: readonly Resident[], neededBytes: number): EvictionPlan {
  const used = residents.reduce((n, r) => n + r.bytes, 0);
  let free = budgetBytes - used;
  if (neededBytes <= free) return { fits: true, victims: [] };
  const candidates = residents.filter((r) => r.evictable).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  const victims: string[] = [];
  for (const r of candidates) {
    victims.push(r.id);
    free += r.bytes;
    if (neededBytes <= free) return { fits: true, victims };
  }
  return { fits: false, freeableBytes: Math.max(0, free) };
}
