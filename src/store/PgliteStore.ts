import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { lockFile, type LockFile, type LockFileOptions } from "../util/lockFile.ts";
import { cacheDir } from "../config/dataDir.ts";
import { createDatabaseDir, pgliteConf } from "./pgliteInitdb.ts";
import { StoreClosedError, type Queryable, type QueryResult, type Store } from "./Store.ts";

export interface PgliteStoreOptions {
  /** The database's directory (Hearth uses `<dataDir>/pglite`); created if missing. */
  dir: string;
  /** Hearth's tables live in this schema; created if missing. Defaults to `public`. */
  schema?: string;
  lock?: LockFileOptions;
  /** Where the template of new databases is kept (see pgliteInitdb.ts); defaults to Hearth's cache folder. */
  cacheDir?: string;
  log?: (message: string) => void;
}

interface PgliteResult {
  rows: unknown[];
  affectedRows?: number;
}

const toResult = <T>(r: PgliteResult): QueryResult<T> => ({ rows: r.rows as T[], rowCount: r.affectedRows || r.rows.length });

/**
 * PostgreSQL compiled to WebAssembly, in this process, on disk: storage with nothing to install.
 * One process only: the directory is locked (`<dir>.lock`) while it is open.
 */
export class PgliteStore implements Store {
  readonly kind = "pglite";
  readonly #db: PGlite;
  readonly #lock: LockFile;
  #closed = false;

  private constructor(db: PGlite, lock: LockFile) {
    this.#db = db;
    this.#lock = lock;
  }

  static async open(opts: PgliteStoreOptions): Promise<PgliteStore> {
    await mkdir(dirname(opts.dir), { recursive: true });
    const lock = await lockFile(`${opts.dir}.lock`, `The embedded database ${opts.dir}`, {
      hint: "Only one Hearth process can use an embedded database: stop the other one, give this one another data dir, " +
        "or set a PostgreSQL database URL to share one database between processes.",
      ...opts.lock,
    });
    try {
      if (!existsSync(join(opts.dir, "PG_VERSION"))) await createDatabaseDir(opts.dir, opts.cacheDir ?? cacheDir(), opts.log);
      // Loaded here, not at the top: a PostgreSQL deployment never pays for the WebAssembly module.
      const { PGlite } = await import("@electric-sql/pglite");
      const db = await PGlite.create({ dataDir: opts.dir, postgresqlconf: pgliteConf });
      if (opts.schema) await db.exec(`SET search_path TO ${opts.schema}`);
      return new PgliteStore(db, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    if (this.#closed) throw new StoreClosedError();
    return toResult<T>(await this.#db.query(sql, params));
  }

  async exec(sql: string): Promise<void> {
    if (this.#closed) throw new StoreClosedError();
    await this.#db.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreClosedError();
    return this.#db.transaction((tx) => fn({
      query: async <R>(sql: string, params?: unknown[]) => toResult<R>(await tx.query(sql, params)),
      exec: async (sql) => { await tx.exec(sql); },
    }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#db.close();
    } finally {
      await this.#lock.release();
    }
  }
}
