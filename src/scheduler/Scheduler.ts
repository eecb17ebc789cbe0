import { chooseSlot, sharedPrefix } from "./chooseSlot.ts";

import type { SlotInfo, SlotState } from "./types.ts";

export interface SchedulerOptions {
  slots: number;
  /** Requests that may wait for a busy slot; one more is refused at once. */
  maxQueue: number;
  /** From arrival: queue wait counts. */
  timeoutMs: number;
  /** Tokens one step may evaluate: one per decoding slot, the rest goes to prompt chunks. */
  stepTokens: number;
  /** See chooseSlot. */
  minPrefixReuse: number;
  /**
   * Prompt tokens another slot must hold beyond the chosen slot's own for its state to be copied
   * instead of evaluated (and for a request to wait for a slot still evaluating them); 0: never.
   */
  minPrefixCopy?: number;
  /**
   * Saved prompt states outside the slots (the prompt cache in host memory): the one sharing the
   * longest start with a prompt, if any. Restoring one counts as a copy (`minPrefixCopy`).
   */
  promptCache?: (prompt: readonly number[]) => { key: string; shared: number } | null;
  /** Milliseconds; injected so that tests control time. */
  now: () => number;
}

/** What one step does for one busy slot. */
export type Work =
  | { kind: "prefill"; slot: number; requestId: string; from: number; to: number; last: boolean }
  | { kind: "decode"; slot: number; requestId: string };

export interface Admission {
  requestId: string;
  slot: number;
  /** Prompt tokens already in the slot's KV cells; cells after them must be erased. */
  reuse: number;
  /**
   * The slot whose KV state to copy into this one first (its first `reuse` tokens are this prompt's):
   * set when another slot holds more of the prompt than the chosen slot does.
   */
  copyFrom?: number;
  /** The prompt-cache entry to load into the slot first (its first `reuse` tokens are this prompt's). */
  restoreFrom?: string;
}

export class QueueFullError extends Error {
  override name = "QueueFullError";
  readonly maxQueue: number;
  constructor(maxQueue: number) {
    super(`the queue is full (${maxQueue} waiting)`);
    this.maxQueue = maxQueue;
  }
}

interface Waiting {
  id: string;
  prompt: readonly number[];
  arrivedAt: number;
  /** Whose request it is (an API key): tenants take turns for free slots. */
  tenant: string;
}

interface Slot {
  id: number;
  state: SlotState;
  request: Waiting | null;
  /** The tokens in the slot's KV cells, as last reported on release. */
  cached: readonly number[];
  reuse: number;
  prefilled: number;
  generated: number;
}

/**
 * Continuous batching, as plain data: which waiting request goes to which slot, and what every busy
 * slot does in the next step. It knows nothing of HTTP or of the model: the step loop asks it for a
 * plan, runs it on llama.cpp, and reports back. Modelled on vLLM's `schedule()` with a per-step
 * token budget (decodes first, then prompt chunks), so one long prompt never stalls the decodes.
 */
export class Scheduler {
  readonly #opts: SchedulerOptions;
  readonly #queue: Waiting[] = [];
  readonly #slots: Slot[];

  constructor(opts: SchedulerOptions) {
    this.#opts = opts;
    this.#slots = Array.from({ length: opts.slots }, (_, id) => ({ id, state: "idle", request: null, cached: [], reuse: 0, prefilled: 0, generated: 0 }));
  }

  get queued(): number { return this.#queue.length; }
  get busy(): number { return this.#slots.filter((s) => s.state !== "idle").length; }
  get idle(): boolean { return this.#queue.length === 0 && this.busy === 0; }

  /** Whether `count` more requests may wait (free slots count as room: they take theirs at the next step). */
  hasRoom(count: number): boolean {
    return this.#queue.length + count <= this.#opts.maxQueue + this.#slots.length - this.busy;
  }

  /**
   * Queues a request; throws QueueFullError when `maxQueue` requests would be left waiting for a
   * slot (requests that free slots will take at the next step do not count).
   */
  add(id: string, prompt: readonly number[], tenant = ""): void {
    if (!this.hasRoom(1)) throw new QueueFullError(this.#opts.maxQueue);
    this.#queue.push({ id, prompt, arrivedAt: this.#opts.now(), tenant });
  }

  /**
   * The queue index of the next request to admit: the tenant with the fewest running, oldest first;
   * -1 when every waiting request is held back.
   */
  #nextTurn(held: ReadonlySet<Waiting>): number {
    const running = new Map<string, number>();
    for (const s of this.#slots) if (s.request) running.set(s.request.tenant, (running.get(s.request.tenant) ?? 0) + 1);
    let best = -1;
    let bestRunning = Infinity;
    for (let i = 0; i < this.#queue.length; i++) {
      if (held.has(this.#queue[i]!)) continue;
      const n = running.get(this.#queue[i]!.tenant) ?? 0;
      if (n < bestRunning) { best = i; bestRunning = n; } // the queue is in arrival order: the first such is the oldest
      if (n === 0) break;
    }
    return best;
  }

  /** Drops a waiting request; returns false if it is not waiting (running or unknown). */
  dequeue(id: string): boolean {
    const i = this.#queue.findIndex((w) => w.id === id);
    if (i < 0) return false;
    this.#queue.splice(i, 1);
    return true;
  }

  /** Requests past their deadline: waiting ones are dropped here, running ones must be released. */
  expire(): { queued: string[]; running: { requestId: string; slot: number }[] } {
    const deadline = this.#opts.now() - this.#opts.timeoutMs;
    const queued: string[] = [];
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      if (this.#queue[i]!.arrivedAt <= deadline) queued.unshift(this.#queue.splice(i, 1)[0]!.id);
    }
    const running = this.#slots
      .filter((s) => s.request && s.request.arrivedAt <= deadline)
      .map((s) => ({ requestId: s.request!.id, slot: s.id }));
    return { queued, running };
  }

  /**
   * Moves waiting requests into free slots. Tenants take turns: a free slot goes to the oldest
   * request of the tenant holding the fewest slots, so one tenant's burst does not make the others
   * wait behind it; with one tenant this is first come, first served.
   *
   * A prompt prefix is evaluated once per server, not once per slot: when another slot holds more of
   * a prompt than the chosen slot (by `minPrefixCopy` tokens), its state is copied; when a slot is
   * still evaluating a prefix the request shares, the request waits for it (the `n` choices of one
   * request, users sending the same system prompt at once) rather than evaluate it again beside it.
   */
  admit(): Admission[] {
    const admitted: Admission[] = [];
    const held = new Set<Waiting>();
    const minCopy = this.#opts.minPrefixCopy ?? 0;
    while (this.#queue.length > held.size) {
      const free = this.#slots.filter((s) => s.state === "idle");
      if (free.length === 0) break;
      const turn = this.#nextTurn(held);
      if (turn < 0) break;
      const waiting = this.#queue[turn]!;
      // At least one prompt token is evaluated again: the first new token is sampled from its logits.
      const usable = (shared: number) => Math.min(shared, waiting.prompt.length - 1);
      const busy = this.#slots.filter((s) => s.state !== "idle").map((s) => s.id);
      let { slot: id, shared } = chooseSlot(free.map((s) => ({ id: s.id, tokens: s.cached })), busy, waiting.prompt, this.#opts.minPrefixReuse);
      let source: { copyFrom: number } | { restoreFrom: string } | null = null;
      if (minCopy > 0) {
        const donor = this.#bestDonor(waiting.prompt);
        const saved = this.#opts.promptCache?.(waiting.prompt) ?? null;
        const elsewhere = Math.max(usable(donor.held), usable(saved?.shared ?? 0));
        if (usable(donor.pending) - Math.max(usable(shared), elsewhere) >= minCopy) {
          held.add(waiting);
          continue;
        }
        if (elsewhere - usable(shared) >= minCopy) {
          // A copy replaces whatever the slot held: only keeping busy slots together matters now.
          ({ slot: id, shared } = chooseSlot(free.map((s) => ({ id: s.id, tokens: s.cached })), busy, waiting.prompt, Infinity));
          if (elsewhere - usable(shared) >= minCopy) {
            // Another slot's cells before a saved state: a copy between sequences costs less than a load.
            if (usable(donor.held) >= usable(saved?.shared ?? 0)) [source, shared] = [{ copyFrom: donor.slot }, donor.held];
            else [source, shared] = [{ restoreFrom: saved!.key }, saved!.shared];
          }
        }
      }
      this.#queue.splice(turn, 1);
      const slot = this.#slots[id]!;
      const reuse = usable(shared);
      Object.assign(slot, { state: "prefill", request: waiting, reuse, prefilled: reuse, generated: 0 });
      admitted.push({ requestId: waiting.id, slot: id, reuse, ...source });
    }
    return admitted;
  }

  /**
   * The slot holding the longest start of `prompt` in its KV cells (`held` tokens), and the most of
   * it a slot evaluating its own prompt will hold once its prefill passes it (`pending`).
   */
  #bestDonor(prompt: readonly number[]): { slot: number; held: number; pending: number } {
    let best = { slot: -1, held: 0, pending: 0 };
    for (const s of this.#slots) {
      const held = s.request ? sharedPrefix(s.request.prompt, prompt, s.prefilled) : sharedPrefix(s.cached, prompt);
      if (held > best.held) best = { ...best, slot: s.id, held };
      if (s.state === "prefill") best.pending = Math.max(best.pending, sharedPrefix(s.request!.prompt, prompt));
    }
    return best;
  }

  /** Records that a planned state copy failed: the slot evaluates its prompt from the start. */
  copyFailed(slot: number): void {
    Object.assign(this.#busySlot(slot), { reuse: 0, prefilled: 0 });
  }

  /**
   * The next step's work, in ascending slot order (llama.cpp evaluates a batch in one forward pass
   * only when its sequences come in ascending, consecutive order). Decodes take one token each; the
   * rest of the step's token budget goes to prompt chunks, oldest request first.
   */
  plan(): Work[] {
    const busy = this.#slots.filter((s) => s.state !== "idle");
    let budget = Math.max(1, this.#opts.stepTokens - busy.filter((s) => s.state === "decoding").length);
    const chunks = new Map<number, Work>();
    for (const s of [...busy].filter((s) => s.state === "prefill").sort((a, b) => a.request!.arrivedAt - b.request!.arrivedAt)) {
      if (budget <= 0) break;
      const total = s.request!.prompt.length;
      const to = Math.min(total, s.prefilled + budget);
      budget -= to - s.prefilled;
      chunks.set(s.id, { kind: "prefill", slot: s.id, requestId: s.request!.id, from: s.prefilled, to, last: to === total });
    }
    const work: Work[] = [];
    for (const s of busy) {
      if (s.state === "decoding") work.push({ kind: "decode", slot: s.id, requestId: s.request!.id });
      else if (chunks.has(s.id)) work.push(chunks.get(s.id)!);
    }
    return work;
  }

  /** Records a finished prompt chunk; the last chunk also produced the first token. */
  prefilled(slot: number, to: number, last: boolean): void {
    const s = this.#busySlot(slot);
    s.prefilled = to;
    if (last) {
      s.state = "decoding";
      s.generated = 1;
    }
  }

  decoded(slot: number): void {
    this.#busySlot(slot).generated++;
  }

  /** Frees a slot; `cachedTokens` is what its KV cells now hold, for later prefix reuse. */
  release(slot: number, cachedTokens: readonly number[]): void {
    const s = this.#slots[slot];
    if (!s) throw new RangeError(`no slot ${slot}`);
    Object.assign(s, { state: "idle", request: null, cached: cachedTokens, reuse: 0, prefilled: 0, generated: 0 });
  }

  slots(): SlotInfo[] {
    return this.#slots.map((s) => ({
      id: s.id,
      state: s.state,
      requestId: s.request?.id ?? null,
      promptTokens: s.request?.prompt.length ?? 0,
      cachedTokens: s.request ? s.reuse : 0,
      prefilledTokens: s.request ? s.prefilled : 0,
      generatedTokens: s.generated,
    }));
  }

  #busySlot(slot: number): Slot {
    const s = this.#slots[slot];
    if (!s || s.state === "idle") throw new Error(`slot ${slot} is not busy`);
    return s;
  }
}
