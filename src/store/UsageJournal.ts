import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { lockFile, LockHeldError, type LockFile } from "../util/lockFile.ts";
import type { StoreLog } from "./Store.ts";
import { storableUsageRow, type UsageRow } from "./usageRow.ts";

/** What is known of a request when it starts: enough for its row if the process dies before it ends. */
export interface UsageStart {
  requestId: string;
  model: string;
  route: string;
  keyName: string | null;
  userId: string | null;
}

export interface UsageJournalOptions {
  /** The data folder (config `data_dir`); the journal lives in `<dir>/usage-journal/`. */
  dir: string;
  /** One journal per database schema: rows replay into the database they were meant for. */
  schema?: string;
  /**
   * fsync after each record. Defaults to false: a record written with write(2) is in the page
   * cache, which a killed process (kill -9, OOM, a crash) does not lose; only a power loss or a
   * kernel crash would, and that costs an fsync (a millisecond or more) per request to cover.
   */
  fsync?: boolean;
  log?: StoreLog;
}

type Line = { s: UsageStart & { ts: string } } | { r: Omit<UsageRow, "ts"> & { ts: string } };

/** Journals per folder at most: more processes than this on one data folder run without one. */
const SLOTS = 8;

/**
 * The usage rows not yet in the database, on local disk, so that a process killed at any moment
 * loses none. Every record is one synchronous append (one write(2), no fsync: see `fsync`):
 * a request's start, and its row, appended before the client gets its response's last bytes.
 * After each batch the database committed, the journal is rewritten with only what is still live
 * (requests running, rows not committed) once that is smaller than what was appended since, so it
 * stays small and rewriting costs at most one more write per record.
 *
 * At open, the previous process's journal is read back: its rows, and a row with status
 * `interrupted` for each request that started but never produced one. They are written again
 * like any other row; the database ignores a request_id it already has (a unique index), so a
 * row committed just before the crash is not written twice.
 */
export class UsageJournal {
  readonly path: string;
  readonly #lock: LockFile;
  readonly #fsync: boolean;
  readonly #log: StoreLog;
  #fd: number;
  /** Requests started whose row is not journaled yet. */
  readonly #running = new Map<string, string>();
  #appended = 0;
  #failing = false;
  #closed = false;

  private constructor(path: string, lock: LockFile, opts: UsageJournalOptions) {
    this.path = path;
    this.#lock = lock;
    this.#fsync = opts.fsync === true;
    this.#log = opts.log ?? (() => {});
    this.#fd = openSync(path, "a");
  }

  /** Opens this process's journal, and returns the rows the previous one left to write. */
  static async open(opts: UsageJournalOptions): Promise<{ journal: UsageJournal; replay: UsageRow[] }> {
    const folder = join(opts.dir, "usage-journal");
    mkdirSync(folder, { recursive: true });
    for (let slot = 0; slot < SLOTS; slot++) {
      const path = join(folder, `${opts.schema ?? "public"}.${slot}.jsonl`);
      let lock: LockFile;
      try {
        lock = await lockFile(`${path}.lock`, `The usage journal ${path}`);
      } catch (err) {
        if (err instanceof LockHeldError) continue; // another Hearth on this folder; take the next slot
        throw err;
      }
      // A rewrite cut by the crash left its temporary file: the journal itself is still whole.
      rmSync(`${path}.tmp`, { force: true });
      const replay = readJournal(path);
      const journal = new UsageJournal(path, lock, opts);
      journal.#rewrite(replay, []);
      return { journal, replay };
    }
    throw new Error(`usage journal: ${SLOTS} Hearth processes already use the data folder ${opts.dir}`);
  }

  /** A request started. */
  started(s: UsageStart): void {
    const line = JSON.stringify({ s: { ...s, ts: new Date().toISOString() } }) + "\n";
    this.#running.set(s.requestId, line);
    this.#append(line);
  }

  /** A request's row (already made storable), before it is queued for the database. */
  recorded(row: UsageRow): void {
    this.#running.delete(row.requestId);
    this.#append(rowLine(row));
  }

  /** After the database committed a batch: `live` gives the rows not committed yet, read only if the journal is rewritten. */
  checkpoint(live: () => readonly UsageRow[]): void {
    if (this.#closed) return;
    const rows = live();
    if (!this.#failing && this.#appended < 64 + rows.length + this.#running.size) return;
    this.#rewrite(rows, [...this.#running.values()]);
  }

  /** Stops; with `committed`, every row is in the database and the journal is emptied. */
  async close(committed: boolean): Promise<void> {
    if (this.#closed) return;
    if (committed) this.#rewrite([], []);
    this.#closed = true;
    closeSync(this.#fd);
    await this.#lock.release();
  }

  #append(line: string): void {
    // While failing, appends stop: after a short write the file ends in a cut line, and a record
    // appended to it would be lost with it. The next checkpoint's rewrite starts it whole again.
    if (this.#closed || this.#failing) return;
    try {
      const bytes = Buffer.from(line);
      if (writeSync(this.#fd, bytes) < bytes.length) throw new Error("ENOSPC: a short write");
      if (this.#fsync) fsyncSync(this.#fd);
      this.#appended++;
    } catch (err) {
      this.#failed(err);
    }
  }

  /** Replaces the journal with `rows` and `starts`: written aside, then renamed over it, so a crash midway leaves one whole journal. */
  #rewrite(rows: readonly UsageRow[], starts: readonly string[]): void {
    const tmp = `${this.path}.tmp`;
    try {
      const fd = openSync(tmp, "w");
      try {
        writeSync(fd, starts.join("") + rows.map(rowLine).join(""));
        if (this.#fsync) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      closeSync(this.#fd);
      this.#fd = openSync(this.path, "a");
      this.#appended = 0;
      if (this.#failing) this.#log("info", `usage journal: ${this.path} is writable again; usage rows are safe from a crash again`);
      this.#failing = false;
    } catch (err) {
      rmSync(tmp, { force: true });
      this.#failed(err);
    }
  }

  #failed(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#log("error", `usage journal: cannot write ${this.path} (${(err as Error).message}); usage rows are kept in memory only, and a crash would lose those not yet in the database`);
  }
}

const rowLine = (row: UsageRow) => JSON.stringify({ r: { ...row, ts: row.ts.toISOString() } }) + "\n";

/** The rows a journal holds, and an `interrupted` row for each request started there without one. A line cut by the crash is skipped. */
export function readJournal(path: string): UsageRow[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const rows = new Map<string, UsageRow>();
  const starts = new Map<string, UsageStart & { ts: string }>();
  for (const raw of text.split("\n")) {
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      continue;
    }
    if ("s" in line) starts.set(line.s.requestId, line.s);
    else if ("r" in line) rows.set(line.r.requestId, storableUsageRow({ ...line.r, ts: new Date(line.r.ts) }));
  }
  for (const [id, s] of starts) if (!rows.has(id)) rows.set(id, interruptedRow(s));
  return [...rows.values()];
}

/** The row of a request the process died in the middle of. */
function interruptedRow(s: UsageStart & { ts: string }): UsageRow {
  return storableUsageRow({
    ts: new Date(s.ts), requestId: s.requestId, keyName: s.keyName, model: s.model, route: s.route, status: 500,
    finishReason: "interrupted", promptTokens: 0, cachedTokens: 0, completionTokens: 0, queueMs: 0, ttftMs: null,
    durationMs: 0, errorType: "interrupted", userId: s.userId, cacheHit: false,
  });
}
