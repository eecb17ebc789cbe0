export interface Lease<T> {
  item: T;
  release(): void;
}

interface Waiter<T> {
  tokens: readonly number[];
  resolve(lease: Lease<T>): void;
  reject(err: unknown): void;
  signal: AbortSignal;
  onAbort(): void;
}

/**
 * A fixed set of slots handed out first come, first served. A request that finds several free
 * slots gets the one that already holds the longest prefix of its prompt, so that prefix's KV state
 * is reused instead of evaluated again.
 */
export class SlotPool<T> {
  readonly #free: T[];
  readonly #waiters: Waiter<T>[] = [];
  readonly #sharedPrefix: (item: T, tokens: readonly number[]) => number;

  constructor(items: readonly T[], sharedPrefix: (item: T, tokens: readonly number[]) => number) {
    this.#free = [...items];
    this.#sharedPrefix = sharedPrefix;
  }

  get freeCount(): number { return this.#free.length; }
  get waiting(): number { return this.#waiters.length; }

  /** Resolves with a slot; rejects if `signal` aborts first. */
  acquire(tokens: readonly number[], signal: AbortSignal): Promise<Lease<T>> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#free.length > 0 && this.#waiters.length === 0) return Promise.resolve(this.#lease(this.#takeBest(tokens)));
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        tokens, resolve, reject, signal,
        onAbort: () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #takeBest(tokens: readonly number[]): T {
    let best = 0;
    let bestShared = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const shared = this.#sharedPrefix(this.#free[i]!, tokens);
      if (shared > bestShared) { best = i; bestShared = shared; }
    }
    return this.#free.splice(best, 1)[0]!;
  }

  #lease(item: T): Lease<T> {
    let released = false;
    return {
      item,
      release: () => {
        if (released) return;
        released = true;
        this.#free.push(item);
        this.#handOff();
      },
    };
  }

  #handOff(): void {
    while (this.#free.length > 0 && this.#waiters.length > 0) {
      const waiter = this.#waiters.shift()!;
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#lease(this.#takeBest(waiter.tokens)));
    }
  }
}
