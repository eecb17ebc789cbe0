import pg from "pg";
import { StoreClosedError, type Queryable, type QueryResult, type Store, type StoreLog } from "./Store.ts";

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database (libpq's URL form; `?sslmode=...` and the like are honoured). */
  databaseUrl: string;
  /** Hearth's tables live in this schema (its `search_path`); created if missing. Defaults to `public`. */
  schema?: string;
  /** Connections at most. Defaults to 4: Hearth's queries are few and short. */
  poolSize?: number;
  /** Giving up on opening a connection (an unreachable or stalled server). Defaults to 5000 ms. */
  connectionTimeoutMs?: number;
  /** The server cancels a statement running longer than this. Defaults to 30000 ms. */
  statementTimeoutMs?: number;
  /**
   * The client gives up waiting for an answer after this, and drops the connection: covers a server
   * that stops answering mid-query (a network partition), which `statementTimeoutMs` cannot.
   * Defaults to `statementTimeoutMs` + 5000 ms.
   */
  queryTimeoutMs?: number;
  log?: StoreLog;
}

/**
 * bigint (count(*), sum(int), bigserial ids) as a JS number, as PGlite returns it, so that both
 * stores give the same rows. Exact up to 2^53, far beyond any count or id Hearth keeps.
 */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

/** PostgreSQL through a bounded pool, with timeouts so that no call waits forever on a dead server. */
export class PgStore implements Store {
  readonly kind = "postgres";
  readonly #pool: pg.Pool;
  readonly #log: StoreLog;
  #closed = false;
  #lastPoolErrorAt = 0;

  constructor(opts: PgStoreOptions) {
    const statementTimeoutMs = opts.statementTimeoutMs ?? 30_000;
    this.#log = opts.log ?? (() => {});
    this.#pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 4,
      connectionTimeoutMillis: opts.connectionTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      statement_timeout: statementTimeoutMs,
      query_timeout: opts.queryTimeoutMs ?? statementTimeoutMs + 5000,
      // A transaction left open by a dead client must not hold locks for long.
      idle_in_transaction_session_timeout: statementTimeoutMs,
      keepAlive: true,
      application_name: "hearth",
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
      types,
    });
    // An idle connection that dies (server restart, network cut) is reported here; without a
    // listener it would crash the process. The pool drops it and opens a new one when needed.
    this.#pool.on("error", (err) => {
      const now = Date.now();
      if (now - this.#lastPoolErrorAt < 10_000) return;
      this.#lastPoolErrorAt = now;
      this.#log("warn", `store: an idle PostgreSQL connection failed (${err.message}); it will be reopened when needed`);
    });
  }

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    if (this.#closed) throw new StoreClosedError();
    const r = await this.#pool.query(sql, params);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  async exec(sql: string): Promise<void> {
    if (this.#closed) throw new StoreClosedError();
    await this.#pool.query(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreClosedError();
    const client = await this.#pool.connect();
    const tx: Queryable = {
      query: async <R>(sql: string, params?: unknown[]) => {
        const r = await client.query(sql, params);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
      },
      exec: async (sql) => { await client.query(sql); },
    };
    try {
      await client.query("BEGIN");
      const result = await fn(tx);
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      // Destroyed, not returned: after a failure mid-transaction the connection's state is unknown.
      client.release(true);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
