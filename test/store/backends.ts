import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type OpenStoreOptions } from "../../src/store/openStore.ts";
import { PgStore } from "../../src/store/PgStore.ts";
import type { Store } from "../../src/store/Store.ts";

export const PG_URL = process.env.HEARTH_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** An empty database for one group of tests: its own PostgreSQL schema, or its own PGlite data dir. */
export interface TestDatabase {
  /** The PostgreSQL schema, or the PGlite data dir. */
  name: string;
  /** Opens (and migrates) a store on it; may be called again after closing. */
  open(extra?: Partial<OpenStoreOptions>): Promise<Store>;
  /** Removes it. */
  drop(): Promise<void>;
}

export interface Backend {
  name: "postgres" | "pglite";
  create(): Promise<TestDatabase>;
}

export const postgres: Backend = {
  name: "postgres",
  async create() {
    const schema = `hearth_test_${randomBytes(6).toString("hex")}`;
    return {
      name: schema,
      open: (extra = {}) => openStore({ databaseUrl: PG_URL, dataDir: "/nonexistent", schema, ...extra }),
      async drop() {
        const admin = new PgStore({ databaseUrl: PG_URL });
        try {
          await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await admin.close();
        }
      },
    };
  },
};

export const pglite: Backend = {
  name: "pglite",
  async create() {
    const dataDir = await mkdtemp(join(tmpdir(), "hearth-store-"));
    return {
      name: dataDir,
      open: (extra = {}) => openStore({ dataDir, ...extra }),
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  },
};

/** Log lines a component wrote, for asserting on warnings. */
export function captureLog(): { lines: { level: string; message: string }[]; log: (level: "debug" | "info" | "warn" | "error", message: string) => void } {
  const lines: { level: string; message: string }[] = [];
  return { lines, log: (level, message) => { lines.push({ level, message }); } };
}

/** A database for the enclosing `describe`, created before its tests and dropped after; returns a getter for its open store. */
export function useDatabase(backend: Backend): () => Store {
  let db: TestDatabase;
  let store: Store;
  before(async () => {
    db = await backend.create();
    store = await db.open();
  });
  after(async () => {
    await store.close();
    await db.drop();
  });
  return () => store;
}
