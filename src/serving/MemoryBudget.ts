import { errors } from "../errors.ts";
import { planEviction } from "../models/budget/planEviction.ts";

/** What the budget needs of a model that holds (or may hold) memory. */
export interface BudgetHolder {
  readonly id: string;
  /** Counted against the budget: from the decision to load until it is unloaded. */
  readonly reservedBytes: number;
  /** Loaded, idle, not pinned, no load or unload under way: may be unloaded to make room. */
  readonly evictable: boolean;
  readonly lastUsedMs: number;
  /** Unloads it to make room (it was evictable when chosen). */
  evict(): Promise<void>;
}

/**
 * The memory all local models may take together. A model about to load asks for its bytes; idle
 * models are unloaded for it, least recently used first, or it is refused. Decisions are made one
 * at a time, so that two loads never count the same free memory.
 */
export class MemoryBudget {
  readonly totalBytes: number;
  readonly #holders = new Set<BudgetHolder>();
  readonly #log: ((message: string) => void) | undefined;
  #decisions: Promise<unknown> = Promise.resolve();

  constructor(totalBytes: number, log?: (message: string) => void) {
    this.totalBytes = totalBytes;
    this.#log = log;
  }

  /** Memory counted now: models loaded, loading or being unloaded. */
  get usedBytes(): number {
    let n = 0;
    for (const h of this.#holders) n += h.reservedBytes;
    return n;
  }

  add(holder: BudgetHolder): void { this.#holders.add(holder); }
  delete(holder: BudgetHolder): void { this.#holders.delete(holder); }

  /**
   * Makes room for `bytes` for `holder`, unloading idle models if needed, then calls `take` (which
   * counts the bytes as the holder's) before any later decision; throws insufficient_memory if it cannot.
   */
  reserve(holder: BudgetHolder, bytes: number, take: () => void): Promise<void> {
    const decision = this.#decisions.then(async () => {
      const others = [...this.#holders].filter((o) => o !== holder && o.reservedBytes > 0);
      const plan = planEviction(this.totalBytes, others.map((o) => ({ id: o.id, bytes: o.reservedBytes, evictable: o.evictable, lastUsedMs: o.lastUsedMs })), bytes);
      if (!plan.fits) throw errors.insufficientMemory(holder.id, bytes, plan.freeableBytes, this.totalBytes);
      take();
      const victims = others.filter((o) => plan.victims.includes(o.id));
      for (const v of victims) this.#log?.(`unloading ${v.id} (idle) to make room for ${holder.id}`);
      await Promise.all(victims.map((v) => v.evict()));
    });
    this.#decisions = decision.catch(() => {});
    return decision;
  }
}
