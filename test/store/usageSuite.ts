import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import type { Store } from "../../src/store/Store.ts";
import { UsageLog } from "../../src/store/UsageLog.ts";
import type { UsageRow } from "../../src/store/usageRow.ts";
import { captureLog, useDatabase, type Backend } from "./backends.ts";
import { row } from "./storeSuite.ts";

async function stored(store: Store, rows: readonly UsageRow[]): Promise<{ request_id: string; model: string; user_id: string | null }[]> {
  const r = await store.query<{ request_id: string; model: string; user_id: string | null }>(
    "SELECT request_id, model, user_id FROM usage_log WHERE request_id = ANY($1::text[]) ORDER BY id", [rows.map((x) => x.requestId)]);
  return r.rows;
}

/** Rows the database would refuse (a NUL, a lone surrogate), and rows it does refuse: the rest of their batch is written. */
export function usageSuite(backend: Backend): void {
  describe(`${backend.name}: usage rows with bad data`, () => {
    const db = useDatabase(backend);
    let store: Store;
    beforeEach(() => { store = db(); });

    test("a NUL or a lone surrogate in user or model is stored without it, and the batch around it is written", async () => {
      const usage = new UsageLog(store, { flushIntervalMs: 60_000 });
      const rows = Array.from({ length: 12 }, () => row());
      rows.splice(5, 0, row({ userId: "u\u0000", model: "m\u0000odel" }), row({ userId: "\ud800x", keyName: "k\u0000" }));
      for (const r of rows) usage.record(r);
      await usage.close();
      const got = await stored(store, rows);
      assert.equal(got.length, 14, "every row is written");
      assert.deepEqual(got[5], { request_id: rows[5]!.requestId, model: "model", user_id: "u" });
      assert.equal(got[6]!.user_id, "\ufffdx");
      assert.deepEqual(usage.stats(), { written: 14, pending: 0, dropped: 0, refused: 0, failures: 0, batches: 1 });
    });

    test("a row the database refuses is isolated and counted; every other row of its batch is written once", async () => {
      // A constraint the cleaning cannot satisfy stands in for any data the database refuses.
      await store.exec("ALTER TABLE usage_log ADD CONSTRAINT test_poison CHECK (model <> 'poison')");
      try {
        const { lines, log } = captureLog();
        const usage = new UsageLog(store, { flushIntervalMs: 60_000, log });
        const rows = Array.from({ length: 40 }, (_, i) => row({ model: i === 13 || i === 31 ? "poison" : "m" }));
        for (const r of rows) usage.record(r);
        await usage.close();
        const good = rows.filter((r) => r.model !== "poison");
        assert.deepEqual((await stored(store, rows)).map((r) => r.request_id), good.map((r) => r.requestId), "the good rows, in order, once each");
        const stats = usage.stats();
        assert.equal(stats.refused, 2);
        assert.equal(stats.written, 38);
        assert.equal(stats.pending, 0);
        assert.equal(stats.dropped, 0);
        const errors = lines.filter((l) => l.level === "error");
        assert.equal(errors.length, 2, "one line per refused row");
        assert.ok(errors.every((l, i) => l.message.includes(rows[i === 0 ? 13 : 31]!.requestId)), JSON.stringify(errors));
      } finally {
        await store.exec("ALTER TABLE usage_log DROP CONSTRAINT test_poison");
      }
    });
  });
}
