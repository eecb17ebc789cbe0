import { randomUUID } from "node:crypto";
import { insertUsageBatch } from "./insertUsageBatch.ts";
import type { Queryable, StoreLog } from "./Store.ts";
import type { UsageJournal, UsageStart } from "./UsageJournal.ts";
import { isUnavailable, sqlState } from "./storeErrors.ts";
import { storableUsageRow, type UsageRow } from "./usageRow.ts";

export interface UsageLogOptions {
  /** Buffered rows are written at least this often. Defaults to 500 ms. */
  flushIntervalMs?: number;
  /** Rows per INSERT; a full batch is written at once. Defaults to 500. */
  batchSize?: number;
  /**
   * Rows held in memory at most (waiting, or being written). When full, new rows are dropped and
   * counted in `dropped`, with one warning. Defaults to 100000 (roughly 80 MB of heap).
   */
  maxBuffered?: number;
  /** The first wait before retrying a failed write; doubled per failure up to `retryMaxMs`. Defaults to 250 ms. */
  retryMinMs?: number;
  /** Defaults to 30000 ms. */
  retryMaxMs?: number;
  /** `flush()` and `close()` give up after this. Defaults to 10000 ms. */
  flushTimeoutMs?: number;
  log?: StoreLog;
  /** Where each row (and each request's start) is appended before it is buffered, so that a crash loses none. */
  journal?: UsageJournal;
  /** Rows a previous process left in the journal: written first (they are in the journal already). */
  replay?: readonly UsageRow[];
}

export interface UsageLogStats {
  /** Rows written. */
  written: number;
  /** Rows in memory, not written yet. */
  pending: number;
  /** Rows dropped: the buffer was full, or the log was closed. */
  dropped: number;
  /** Rows the database refused for their data (SQLSTATE class 22 or 23), each alone: the rest of their batch is written. */
  refused: number;
  /** Failed write attempts (retried, or split to find the rows the database refuses). */
  failures: number;
  /** Successful INSERTs. */
  batches: number;
}

interface Batch {
  id: string;
  rows: UsageRow[];
  attempts: number;
}

interface Waiter {
  upTo: number;
  resolve: () => void;
}

const PRUNE_EVERY_MS = 3_600_000;

/**
 * The usage log: `record()` on the request path only appends to memory; rows are written in
 * batches, one multi-row INSERT each, off the request path. A write that fails is retried with
 * backoff, the same batch under the same id, so each row is written exactly once (see
 * insertUsageBatch). Rows are written in the order they were recorded.
 *
 * When the buffer holds `maxBuffered` rows (the database has been unreachable for a while), the
 * NEWEST rows are dropped: what is kept stays a contiguous, oldest-first record of what happened
 * before the outage, and memory stays bounded. Each dropped row is counted in `dropped`; one
 * warning is logged when dropping starts and one line when there is room again.
 */
export class UsageLog {
  readonly #db: Queryable;
  readonly #log: StoreLog;
  readonly #batchSize: number;
  readonly #maxBuffered: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #flushTimeoutMs: number;
  readonly #journal: UsageJournal | undefined;

  #queue: UsageRow[] = [];
  #head = 0;
  #inflight: Batch | null = null;
  /** Halves of a refused batch, written (and split again) before any new batch: see #failed. */
  #split: Batch[] = [];
  /** Rows accepted by record(), and rows finished with (written, or dropped as refused), in order. */
  #accepted = 0;
  #finished = 0;
  /** Rows up to this count are written even if they do not fill a batch. */
  #drainUpTo = 0;
  #waiters: Waiter[] = [];

  #written = 0;
  #dropped = 0;
  #refused = 0;
  #failures = 0;
  #batches = 0;

  #writing = false;
  #retryDelay = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #tick: NodeJS.Timeout;
  #outage = false;
  #full = false;
  #droppedWhileFull = 0;
  #closed = false;
  #lastPrune = 0;

  constructor(db: Queryable, opts: UsageLogOptions = {}) {
    this.#db = db;
    this.#log = opts.log ?? (() => {});
    this.#batchSize = opts.batchSize ?? 500;
    this.#maxBuffered = opts.maxBuffered ?? 100_000;
    this.#retryMinMs = opts.retryMinMs ?? 250;
    this.#retryMaxMs = opts.retryMaxMs ?? 30_000;
    this.#flushTimeoutMs = opts.flushTimeoutMs ?? 10_000;
    this.#journal = opts.journal;
    for (const row of opts.replay ?? []) this.#queue.push(storableUsageRow(row));
    this.#accepted = this.#drainUpTo = this.#queue.length;
    this.#tick = setInterval(() => {
      if (this.#retryTimer) return; // backing off
      this.#drainUpTo = this.#accepted;
      void this.#pump();
    }, opts.flushIntervalMs ?? 500);
    this.#tick.unref();
  }

  get written(): number { return this.#written; }
  get pending(): number {
    return this.#queue.length - this.#head + (this.#inflight?.rows.length ?? 0) + this.#split.reduce((n, b) => n + b.rows.length, 0);
  }
  get dropped(): number { return this.#dropped; }
  get refused(): number { return this.#refused; }
  get failures(): number { return this.#failures; }

  stats(): UsageLogStats {
    return { written: this.#written, pending: this.pending, dropped: this.#dropped, refused: this.#refused, failures: this.#failures, batches: this.#batches };
  }

  /** A request started: journaled, so that a crash before its row leaves an `interrupted` row. Never throws. */
  started(s: UsageStart): void {
    if (!this.#closed) this.#journal?.started(s);
  }

  /** Queues one row, journaled first. Never throws and never waits. */
  record(row: UsageRow): void {
    try {
      if (this.#closed) return this.#drop("the usage log is closed");
      if (this.pending >= this.#maxBuffered) return this.#drop(`the usage log's buffer is full (${this.#maxBuffered} rows)`);
      const clean = storableUsageRow(row);
      this.#journal?.recorded(clean);
      this.#queue.push(clean);
      this.#accepted++;
      if (this.#queue.length - this.#head >= this.#batchSize && !this.#retryTimer) void this.#pump();
    } catch {
      this.#dropped++;
    }
  }

  /**
   * Writes every row recorded so far; resolves once they are in the database. Rejects after
   * `timeoutMs` if they could not be written (the rows stay buffered, and are retried).
   */
  flush(timeoutMs = this.#flushTimeoutMs): Promise<void> {
    const upTo = this.#accepted;
    if (this.#finished >= upTo) return Promise.resolve();
    this.#drainUpTo = Math.max(this.#drainUpTo, upTo);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        upTo,
        resolve: () => { clearTimeout(timer); resolve(); },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`usage log: ${this.pending} rows could not be written within ${timeoutMs} ms (the database is unreachable or slow); they stay buffered`));
      }, timeoutMs);
      this.#waiters.push(waiter);
      // A flush does not wait out a backoff: try now (a graceful shutdown has little time).
      if (this.#retryTimer) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
      }
      void this.#pump();
    });
  }

  /**
   * Stops taking rows, writes what is buffered (within `timeoutMs`) and stops. Rejects if rows could
   * not be written; they are lost when the process exits. The database is the caller's to close.
   */
  async close(timeoutMs = this.#flushTimeoutMs): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#tick);
    let committed = false;
    try {
      await this.flush(timeoutMs);
      committed = true;
    } finally {
      await this.#journal?.close(committed);
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#waiters = [];
    }
  }

  #drop(why: string): void {
    this.#dropped++;
    if (this.#closed) {
      if (!this.#full) this.#log("warn", `usage log: ${why}; usage rows recorded after close are dropped`);
      this.#full = true;
      return;
    }
    if (this.#full) {
      this.#droppedWhileFull++;
      return;
    }
    this.#full = true;
    this.#droppedWhileFull = 1;
    this.#log("warn", `usage log: ${why}; new usage rows are dropped (counted in dropped) until there is room`);
  }

  /** Writes batches while there is work: full batches, and partial ones up to `#drainUpTo`. One at a time. */
  async #pump(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#nextBatch()) {
        const batch = this.#inflight!;
        batch.attempts++;
        try {
          await insertUsageBatch(this.#db, batch.id, batch.rows);
        } catch (err) {
          this.#failed(batch, err);
          if (this.#inflight) return this.#scheduleRetry();
          continue;
        }
        this.#done(batch);
      }
    } finally {
      this.#writing = false;
    }
  }

  /** The batch to write next, forming one from the buffer if needed; null if there is nothing to write yet. */
  #nextBatch(): Batch | null {
    if (this.#closed && this.#waiters.length === 0) return null;
    if (this.#inflight) return this.#inflight;
    if (this.#split.length > 0) return (this.#inflight = this.#split.shift()!);
    const buffered = this.#queue.length - this.#head;
    if (buffered === 0) return null;
    if (buffered < this.#batchSize && this.#finished >= this.#drainUpTo) return null;
    const n = Math.min(buffered, this.#batchSize);
    const rows = this.#queue.slice(this.#head, this.#head + n);
    this.#head += n;
    if (this.#head >= 4096 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#inflight = { id: randomUUID(), rows, attempts: 0 };
    return this.#inflight;
  }

  #done(batch: Batch): void {
    this.#inflight = null;
    this.#written += batch.rows.length;
    this.#finished += batch.rows.length;
    this.#batches++;
    this.#retryDelay = 0;
    if (this.#outage) {
      this.#outage = false;
      this.#log("info", `usage log: the database is reachable again; writing the ${this.pending} buffered rows`);
    }
    if (this.#full && !this.#closed && this.pending < this.#maxBuffered) {
      this.#full = false;
      this.#log("warn", `usage log: there is room again; ${this.#droppedWhileFull} usage rows were dropped while the buffer was full`);
    }
    this.#wakeWaiters();
    this.#journal?.checkpoint(() => [...this.#split.flatMap((b) => b.rows), ...this.#queue.slice(this.#head)]);
    if (Date.now() - this.#lastPrune > PRUNE_EVERY_MS) {
      this.#lastPrune = Date.now();
      // Batch ids are only needed while a batch may be retried: a week is far beyond that.
      this.#db.query("DELETE FROM usage_batches WHERE written_at < now() - interval '7 days'").catch(() => {});
    }
  }

  #failed(batch: Batch, err: unknown): void {
    this.#failures++;
    const state = sqlState(err);
    const refused = !isUnavailable(err) && (state?.startsWith("22") || state?.startsWith("23"));
    if (refused) return this.#isolate(batch, err);
    if (!this.#outage) {
      this.#outage = true;
      this.#log("warn", `usage log: cannot write to the database (${(err as Error).message}); ${this.pending} rows kept in memory, retrying`);
    }
  }

  /**
   * The database refused some row's data, so the statement (all or nothing) wrote none: the batch
   * is halved and each half written on its own, at once, until the refused rows stand alone; only
   * those are dropped, one error line each. A half gets a new batch id: the refused statement
   * committed nothing under the old one.
   */
  #isolate(batch: Batch, err: unknown): void {
    this.#inflight = null;
    if (batch.rows.length > 1) {
      const mid = Math.ceil(batch.rows.length / 2);
      this.#split.unshift({ id: randomUUID(), rows: batch.rows.slice(0, mid), attempts: 0 }, { id: randomUUID(), rows: batch.rows.slice(mid), attempts: 0 });
      return;
    }
    this.#finished++;
    this.#refused++;
    const r = batch.rows[0]!;
    this.#log("error", `usage log: the database refused the row of request ${JSON.stringify(r.requestId)} (${(err as Error).message}); it is dropped, the rest of its batch is written`);
    this.#wakeWaiters();
  }

  #wakeWaiters(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (w.upTo > this.#finished) return true;
      w.resolve();
      return false;
    });
  }

  #scheduleRetry(): void {
    this.#retryDelay = Math.min(this.#retryMaxMs, this.#retryDelay === 0 ? this.#retryMinMs : this.#retryDelay * 2);
    // Jitter, so that many processes do not retry in step.
    const delay = this.#retryDelay * (0.75 + Math.random() * 0.5);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#pump();
    }, delay);
    this.#retryTimer.unref();
  }
}
