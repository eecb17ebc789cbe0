import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Store } from "../../src/store/Store.ts";
import { UsageJournal } from "../../src/store/UsageJournal.ts";
import { UsageLog } from "../../src/store/UsageLog.ts";
import type { UsageRow } from "../../src/store/usageRow.ts";
import { captureLog, useDatabase, type Backend } from "./backends.ts";
import { row } from "./storeSuite.ts";

async function stored(store: Store, rows: readonly { requestId: string }[]): Promise<{ request_id: string; model: string; user_id: string | null }[]> {
  const r = await store.query<{ request_id: string; model: string; user_id: string | null }>(
    "SELECT request_id, model, user_id FROM usage_log WHERE request_id = ANY($1::text[]) ORDER BY id", [rows.map((x) => x.requestId)]);
  return r.rows;
}

const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean).length;

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

  describe(`${backend.name}: the usage journal`, () => {
    const db = useDatabase(backend);
    let store: Store;
    let dir: string;
    beforeEach(async () => {
      store = db();
      dir = await mkdtemp(join(tmpdir(), "hearth-journal-"));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    test("after a crash, the journal's rows are written once, and a request cut short gets an interrupted row", async () => {
      const first = await UsageJournal.open({ dir });
      assert.deepEqual(first.replay, []);
      const usage = new UsageLog(store, { flushIntervalMs: 60_000, journal: first.journal });
      const committed = [row(), row()];
      for (const r of committed) usage.record(r);
      await usage.flush(); // in the database, and still in the journal: the crash comes before a checkpoint
      const waiting = [row(), row(), row()];
      for (const r of waiting) usage.record(r);
      const cut = { requestId: `cut-${randomUUID()}`, model: "m", route: "/v1/chat/completions", keyName: "alice", userId: "u-1" };
      const done = row();
      usage.started(cut);
      usage.started({ ...cut, requestId: done.requestId });
      usage.record(done);
      // What a kill -9 leaves on disk: the journal as appended (closing without emptying it frees its lock for the next open).
      await first.journal.close(false);

      const second = await UsageJournal.open({ dir });
      assert.equal(second.replay.length, 7, "2 committed, 3 waiting, 1 done, 1 cut");
      const after = new UsageLog(store, { flushIntervalMs: 60_000, journal: second.journal, replay: second.replay });
      await after.close();
      const all = [...committed, ...waiting, done, cut];
      assert.deepEqual((await stored(store, all)).map((r) => r.request_id).sort(), all.map((r) => r.requestId).sort(), "each request once");
      const r = await store.query("SELECT status, finish_reason, error_type, key_name, user_id, completion_tokens FROM usage_log WHERE request_id = $1", [cut.requestId]);
      assert.deepEqual(r.rows, [{ status: 500, finish_reason: "interrupted", error_type: "interrupted", key_name: "alice", user_id: "u-1", completion_tokens: 0 }]);
      assert.equal(lines(second.journal.path), 0, "a clean close empties the journal");
      assert.deepEqual((await UsageJournal.open({ dir })).replay, [], "nothing is replayed twice");
    });

    test("the journal stays small: it is rewritten with what is still pending as batches commit", async () => {
      const { journal } = await UsageJournal.open({ dir });
      const usage = new UsageLog(store, { flushIntervalMs: 60_000, batchSize: 100, journal });
      let most = 0;
      for (let i = 0; i < 2000; i++) {
        usage.record(row());
        if (i % 100 === 99) {
          await usage.flush();
          most = Math.max(most, lines(journal.path));
        }
      }
      assert.ok(most < 300, `the journal held ${most} lines at most`);
      await usage.close();
      assert.equal(lines(journal.path), 0);
    });
  });
}
