import { join } from "node:path";
import { migrate } from "./migrate.ts";
import { PgliteStore } from "./PgliteStore.ts";
import { PgStore, type PgStoreOptions } from "./PgStore.ts";
import { checkSchemaName, type Store, type StoreLog } from "./Store.ts";
import type { LockFileOptions } from "../util/lockFile.ts";

export interface OpenStoreOptions {
  /** PostgreSQL URL. Unset: an embedded database (PGlite) in `<dataDir>/pglite`, for this process only. */
  databaseUrl?: string;
  /** Hearth's data directory (see `config/dataDir.ts`); used when `databaseUrl` is unset. */
  dataDir: string;
  /** Keep Hearth's tables in this schema (created if missing) rather than `public`. */
  schema?: string;
  /** PostgreSQL pool size and timeouts (see `PgStoreOptions`). */
  postgres?: Pick<PgStoreOptions, "poolSize" | "connectionTimeoutMs" | "statementTimeoutMs" | "queryTimeoutMs">;
  /** The embedded database's lock file timing. */
  lock?: Pick<LockFileOptions, "heartbeatMs" | "staleMs">;
  log?: StoreLog;
}

/** Opens the database Hearth keeps keys and usage in, and brings its schema up to date. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const schema = opts.schema === undefined ? undefined : checkSchemaName(opts.schema);
  const store: Store = opts.databaseUrl
    ? new PgStore({ databaseUrl: opts.databaseUrl, ...opts.postgres, ...(schema ? { schema } : {}), ...(opts.log ? { log: opts.log } : {}) })
    : await PgliteStore.open({
      dir: join(opts.dataDir, "pglite"), ...(schema ? { schema } : {}), ...(opts.lock ? { lock: opts.lock } : {}),
      ...(opts.log ? { log: (message: string) => opts.log!("warn", message) } : {}),
    });
  try {
    await migrate(store, { ...(schema ? { schema } : {}), ...(opts.log ? { log: opts.log } : {}) });
  } catch (err) {
    await store.close().catch(() => {});
    if (opts.databaseUrl) throw new Error(`Cannot open the database at ${describeUrl(opts.databaseUrl)}: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  return store;
}

/** host:port/database, without the credentials a URL may carry. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
  } catch {
    return "the configured URL";
  }
}
