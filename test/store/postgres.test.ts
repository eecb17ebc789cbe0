import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../../src/store/openStore.ts";
import { PG_URL, postgres } from "./backends.ts";
import { storeSuite } from "./storeSuite.ts";

storeSuite(postgres);

test("postgres: two processes opening one new schema at once both succeed, and each migration is recorded once", async () => {
  const db = await postgres.create();
  try {
    const stores = await Promise.all([db.open(), db.open(), db.open()]);
    const { rows } = await stores[0]!.query<{ version: number; n: number }>("SELECT version, count(*) AS n FROM hearth_migrations GROUP BY version ORDER BY version");
    assert.deepEqual(rows.map((r) => r.n), rows.map(() => 1));
    assert.ok(rows.length >= 2);
    const placed = await stores[0]!.query<{ table_schema: string }>(
      "SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name IN ('api_keys', 'usage_log', 'hearth_migrations') AND table_schema IN ($1, 'public')", [db.name]);
    assert.deepEqual(placed.rows, [{ table_schema: db.name }], "Hearth's tables are in its schema only");
    await Promise.all(stores.map((s) => s.close()));
  } finally {
    await db.drop();
  }
});

test("postgres: an unreachable database fails the open quickly, naming the server but not the credentials", async () => {
  const start = Date.now();
  await assert.rejects(
    openStore({ databaseUrl: "postgres://hearth:s3cret@127.0.0.1:1/hearthdb", dataDir: "/nonexistent", postgres: { connectionTimeoutMs: 1000 } }),
    (e: unknown) => e instanceof Error && /Cannot open the database at 127\.0\.0\.1:1\/hearthdb/.test(e.message) && !e.message.includes("s3cret"),
  );
  assert.ok(Date.now() - start < 3000);
});

test("postgres: a schema name that is not a plain identifier is refused", async () => {
  await assert.rejects(openStore({ databaseUrl: PG_URL, dataDir: "/nonexistent", schema: "x; DROP TABLE y" }), /not usable/);
});
