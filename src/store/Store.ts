/**
 * What Hearth's storage needs from a database: PostgreSQL through a pool (`PgStore`) or PGlite
 * embedded in the data dir (`PgliteStore`). Both run the same SQL, so everything above this
 * interface (migrations, keys, usage) is written once.
 */

export interface QueryResult<T> {
  rows: T[];
  /** Rows returned, or affected by an INSERT, UPDATE or DELETE. */
  rowCount: number;
}

export interface Queryable {
  /** One statement; `$1`, `$2`... are bound to `params`. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** A script of several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Store extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction on one connection: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Ends every connection (PostgreSQL) or shuts the embedded database down and frees its lock. */
  close(): Promise<void>;
}

export type StoreLog = (level: "debug" | "info" | "warn" | "error", message: string) => void;

/** A schema name Hearth puts in `search_path` unquoted: letters, digits and `_`, at most 63 bytes. */
export function checkSchemaName(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`The database schema name '${schema}' is not usable: use letters, digits and '_' (at most 63), not starting with a digit.`);
  }
  return schema.toLowerCase();
}

export class StoreClosedError extends Error {
  constructor() {
    super("The store is closed.");
    this.name = "StoreClosedError";
  }
}
