import { migrations as hearthMigrations, type Migration } from "./migrations.ts";
import type { Store, StoreLog } from "./Store.ts";

export interface MigrateResult {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** The schema's version afterwards. */
  version: number;
}

/**
 * Brings the schema up to date in one transaction: all pending steps or none. Processes starting
 * together against one PostgreSQL database queue on an advisory lock held until the transaction
 * ends, so each step runs once; the later ones find it recorded in `hearth_migrations`.
 */
export async function migrate(store: Store, opts: { schema?: string; log?: StoreLog; migrations?: readonly Migration[] } = {}): Promise<MigrateResult> {
  const steps = [...(opts.migrations ?? hearthMigrations)].sort((a, b) => a.version - b.version);
  const result = await store.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('hearth_migrations'), hashtext($1))", [opts.schema ?? "public"]);
    if (opts.schema) await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
    await tx.exec(`CREATE TABLE IF NOT EXISTS hearth_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number }>("SELECT version FROM hearth_migrations");
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const step of steps) {
      if (done.has(step.version)) continue;
      await tx.exec(step.sql);
      await tx.query("INSERT INTO hearth_migrations (version, name) VALUES ($1, $2)", [step.version, step.name]);
      applied.push(step.version);
    }
    return { applied, version: Math.max(0, ...done, ...applied) };
  });
  const known = Math.max(0, ...steps.map((s) => s.version));
  if (result.version > known) {
    opts.log?.("warn", `store: the database schema is at version ${result.version}, newer than this Hearth knows (${known}); a newer Hearth has used it`);
  }
  if (result.applied.length > 0) opts.log?.("info", `store: schema migrated to version ${result.version} (applied ${result.applied.join(", ")})`);
  return result;
}
