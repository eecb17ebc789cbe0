export interface FreeSlot {
  id: number;
  /** Tokens in the slot's KV cells. */
  tokens: readonly number[];
}

/**
 * Picks the free slot for a prompt. Two things compete:
 * - prefix reuse: a slot whose KV cells already hold the start of the prompt skips evaluating it;
 * - contiguity: llama.cpp (one KV stream per sequence) batches only consecutive sequence ids into
 *   one forward pass, so busy slots {0, 2} cost two passes per step where {0, 1} cost one.
 * A shared prefix of at least `minPrefixReuse` tokens wins (a long system prompt saves far more than
 * a few extra passes); otherwise the slot that keeps the busy slots in the fewest runs wins, then
 * the longer shared prefix, then the lower id.
 */
export function chooseSlot(free: readonly FreeSlot[], busy: readonly number[], prompt: readonly number[], minPrefixReuse: number): { slot: number; shared: number } {
  if (free.length === 0) throw new Error("no free slot");
  const busySet = new Set(busy);
  const runsAdded = (id: number) => 1 - (busySet.has(id - 1) ? 1 : 0) - (busySet.has(id + 1) ? 1 : 0);
  const scored = free.map((s) => ({ id: s.id, shared: sharedPrefix(s.tokens, prompt), runs: runsAdded(s.id) }));
  const longest = Math.max(...scored.map((s) => s.shared));
  const pool = longest >= minPrefixReuse ? scored.filter((s) => s.shared === longest) : scored;
  pool.sort((a, b) => a.runs - b.runs || b.shared - a.shared || a.id - b.id);
  const best = pool[0]!;
  return { slot: best.id, shared: best.shared };
}

/** How many first tokens `a` and `b` have in common, counting at most `limit`. */
export function sharedPrefix(a: readonly number[], b: readonly number[], limit = Infinity): number {
  const n = Math.min(a.length, b.length, limit);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
