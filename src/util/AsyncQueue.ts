/**
 * A push-driven async iterable: a producer pushes values, ends it, or fails it; one consumer reads.
 * Values pushed before anyone reads are buffered.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #buffer: T[] = [];
  #waiter: ((r: IteratorResult<T>) => void) | null = null;
  #failWaiter: ((err: unknown) => void) | null = null;
  #ended = false;
  #error: unknown = undefined;
  #failed = false;

  push(value: T): void {
    if (this.#ended) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#clearWaiters();
      w({ value, done: false });
    } else {
      this.#buffer.push(value);
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#waiter && this.#buffer.length === 0) {
      const w = this.#waiter;
      this.#clearWaiters();
      w({ value: undefined, done: true });
    }
  }

  fail(err: unknown): void {
    if (this.#ended) return;
    this.#failed = true;
    this.#error = err;
    this.#ended = true;
    if (this.#failWaiter && this.#buffer.length === 0) {
      const f = this.#failWaiter;
      this.#clearWaiters();
      f(err);
    }
  }

  get ended(): boolean { return this.#ended; }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#buffer.length > 0) return Promise.resolve({ value: this.#buffer.shift()!, done: false });
        if (this.#failed) return Promise.reject(this.#error);
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.#waiter = resolve;
          this.#failWaiter = reject;
        });
      },
      return: () => {
        this.#ended = true;
        this.#buffer.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  #clearWaiters(): void {
    this.#waiter = null;
    this.#failWaiter = null;
  }
}
