import { randomUUID } from "node:crypto";
import { toDecision, validateAcquire, type WindowOutcome } from "./toDecision.ts";
import { LEASE_MS, WINDOW_MS, type LimitName, type RateLimitDecision, type RateLimiter, type RateLimitKey, type RateLimitUsage } from "./types.ts";

export interface MemoryLimiterOptions {
  /** Window, in ms. Defaults to 60000 (per minute); shorter only in tests. */
  windowMs?: number;
  /** Parallel slot lease, in ms. Defaults to 600000 (10 minutes). */
  leaseMs?: number;
  /** Clock, in ms. Defaults to `Date.now`. */
  now?: () => number;
}

interface Entry {
  ts: number;
  tokens: number;
  ticket: string;
}

/** One key's sliding window log (oldest first, from `head`) and its leases. */
interface KeyState {
  log: Entry[];
  head: number;
  tokens: number;
  byTicket: Map<string, Entry>;
  /** ticket → lease deadline. */
  inflight: Map<string, number>;
}

/** Memory tickets start with "m:" so a wrapper can tell which store issued one. */
export const MEMORY_TICKET_PREFIX = "m:";

/**
 * The rate limiter of one process: a sliding window log per key (see RedisLimiter for why), in
 * memory. Keys with nothing counted are dropped, at most one window after their last request.
 */
export class MemoryLimiter implements RateLimiter {
  readonly #windowMs: number;
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyState>();
  #lastSweep: number;

  constructor(opts: MemoryLimiterOptions = {}) {
    this.#windowMs = opts.windowMs ?? WINDOW_MS;
    this.#leaseMs = opts.leaseMs ?? LEASE_MS;
    this.#now = opts.now ?? Date.now;
    this.#lastSweep = this.#now();
  }

  /** Keys with state, for tests and /metrics. */
  get size(): number {
    return this.#keys.size;
  }

  async acquire(key: RateLimitKey, tokens: number): Promise<RateLimitDecision> {
    return this.acquireSync(key, tokens);
  }

  /** `acquire` without the promise. */
  acquireSync(key: RateLimitKey, tokens: number): RateLimitDecision {
    validateAcquire(key, tokens);
    const now = this.#now();
    this.#sweep(now);
    const ticket = MEMORY_TICKET_PREFIX + randomUUID();
    const state = this.#keys.get(key.id) ?? newState();
    this.#trim(state, now);
    const outcome = this.#decide(state, key, tokens, now);
    if (outcome.allowed) {
      this.#admit(state, key, tokens, ticket, now);
      outcome.count = state.log.length - state.head;
      outcome.tokens = state.tokens;
    }
    outcome.resetMs = this.#resetMs(state, now);
    if (isEmpty(state)) this.#keys.delete(key.id);
    else this.#keys.set(key.id, state);
    return toDecision(key, outcome, ticket, "memory");
  }

  async release(keyId: string, usage: RateLimitUsage): Promise<void> {
    this.releaseSync(keyId, usage);
  }

  releaseSync(keyId: string, usage: RateLimitUsage): void {
    const state = this.#keys.get(keyId);
    if (!state) return;
    state.inflight.delete(usage.ticket);
    const entry = state.byTicket.get(usage.ticket);
    if (entry && usage.actualTokens !== undefined && Number.isFinite(usage.actualTokens)) {
      const actual = Math.max(0, Math.round(usage.actualTokens));
      state.tokens += actual - entry.tokens;
      entry.tokens = actual;
    }
    if (isEmpty(state)) this.#keys.delete(keyId);
  }

  #decide(state: KeyState, key: RateLimitKey, tokens: number, now: number): WindowOutcome {
    const count = state.log.length - state.head;
    let limit: LimitName | undefined;
    let wait = 0; // -1: never
    const consider = (name: LimitName, ms: number) => {
      if (wait === -1) return;
      if (ms === -1 || ms > wait) [limit, wait] = [name, ms];
    };
    if (key.rpm !== undefined && count + 1 > key.rpm) {
      // The (count - rpm)th oldest must leave the window to make room for one more.
      const entry = state.log[state.head + count - key.rpm];
      consider("requests", key.rpm === 0 || !entry ? -1 : entry.ts + this.#windowMs - now);
    }
    if (key.tpm !== undefined && state.tokens + tokens > key.tpm) {
      consider("tokens", tokens > key.tpm ? -1 : this.#tokensFreeIn(state, state.tokens + tokens - key.tpm, now));
    }
    if (key.maxParallel !== undefined && state.inflight.size + 1 > key.maxParallel) {
      consider("parallel", key.maxParallel === 0 ? -1 : 1000);
    }
    const outcome: WindowOutcome = { allowed: limit === undefined, count, tokens: state.tokens, resetMs: 0 };
    if (limit !== undefined) {
      outcome.limit = limit;
      if (wait !== -1) outcome.retryMs = wait;
    }
    return outcome;
  }

  /** ms until the oldest entries holding `need` tokens have left the window. */
  #tokensFreeIn(state: KeyState, need: number, now: number): number {
    let freed = 0;
    for (let i = state.head; i < state.log.length; i++) {
      const entry = state.log[i]!;
      freed += entry.tokens;
      if (freed >= need) return entry.ts + this.#windowMs - now;
    }
    return this.#windowMs;
  }

  #admit(state: KeyState, key: RateLimitKey, tokens: number, ticket: string, now: number): void {
    if (key.rpm !== undefined || key.tpm !== undefined) {
      const last = state.log[state.log.length - 1];
      // Keep the log sorted even if the wall clock steps back.
      const entry: Entry = { ts: last && last.ts > now ? last.ts : now, tokens, ticket };
      state.log.push(entry);
      state.byTicket.set(ticket, entry);
      state.tokens += tokens;
    }
    if (key.maxParallel !== undefined) state.inflight.set(ticket, now + this.#leaseMs);
  }

  #trim(state: KeyState, now: number): void {
    const cutoff = now - this.#windowMs;
    while (state.head < state.log.length && state.log[state.head]!.ts <= cutoff) {
      const entry = state.log[state.head++]!;
      state.tokens -= entry.tokens;
      state.byTicket.delete(entry.ticket);
    }
    if (state.head > 64 && state.head * 2 > state.log.length) {
      state.log = state.log.slice(state.head);
      state.head = 0;
    }
    for (const [ticket, deadline] of state.inflight) if (deadline <= now) state.inflight.delete(ticket);
  }

  #resetMs(state: KeyState, now: number): number {
    const newest = state.log[state.log.length - 1];
    return state.head < state.log.length && newest ? newest.ts + this.#windowMs - now : 0;
  }

  /** Once a window, drops the keys whose window and leases have all run out. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#windowMs) return;
    this.#lastSweep = now;
    for (const [id, state] of this.#keys) {
      this.#trim(state, now);
      if (isEmpty(state)) this.#keys.delete(id);
    }
  }
}

function newState(): KeyState {
  return { log: [], head: 0, tokens: 0, byTicket: new Map(), inflight: new Map() };
}

function isEmpty(state: KeyState): boolean {
  return state.head === state.log.length && state.inflight.size === 0;
}
