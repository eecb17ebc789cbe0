import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { beforeEach, describe, test } from "node:test";
import { HearthError } from "../../src/errors.ts";
import { insertUsageBatch } from "../../src/store/insertUsageBatch.ts";
import { KeyStore } from "../../src/store/KeyStore.ts";
import { migrate } from "../../src/store/migrate.ts";
import { migrations } from "../../src/store/migrations.ts";
import type { Store } from "../../src/store/Store.ts";
import { UsageLog } from "../../src/store/UsageLog.ts";
import { usageReport } from "../../src/store/usageReport.ts";
import type { UsageReportRow } from "../../src/wire/usageReport.ts";
import type { UsageRow } from "../../src/store/usageRow.ts";
import { waitUntil } from "../helpers/wait.ts";
import { captureLog, useDatabase, type Backend } from "./backends.ts";

const DAY = 86_400_000;
/** Usage tests use disjoint time windows, so they can share one database. */
let nextWindow = Date.UTC(2024, 0, 1);
const newWindow = (days: number) => {
  const from = nextWindow;
  nextWindow += (days + 1) * DAY;
  return { from: new Date(from), to: new Date(from + days * DAY) };
};

export function row(over: Partial<UsageRow> = {}): UsageRow {
  return {
    ts: new Date(), requestId: randomUUID(), keyName: null, model: "m", route: "/v1/chat/completions", status: 200,
    finishReason: "stop", promptTokens: 10, cachedTokens: 0, completionTokens: 5, queueMs: 1, ttftMs: 20, durationMs: 100,
    errorType: null, userId: null, cacheHit: false, ...over,
  };
}

async function countRows(store: Store, requestIds: string[]): Promise<{ rows: number; distinct: number }> {
  const r = await store.query<{ rows: number; distinct: number }>(
    "SELECT count(*) AS rows, count(DISTINCT request_id) AS distinct FROM usage_log WHERE request_id = ANY($1::text[])",
    [requestIds],
  );
  return r.rows[0]!;
}

/** Expected report rows, computed in JS from the rows recorded. */
function expectedReport(rows: UsageRow[], group: (r: UsageRow) => string | null): Map<string | null, Omit<UsageReportRow, "group">> {
  const out = new Map<string | null, Omit<UsageReportRow, "group">>();
  for (const r of rows) {
    const g = group(r);
    const e = out.get(g) ?? { requests: 0, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, errors: 0, cancelled: 0, cache_hits: 0 };
    e.requests++;
    e.prompt_tokens += r.promptTokens;
    e.cached_tokens += r.cachedTokens;
    e.completion_tokens += r.completionTokens;
    if (r.status >= 400 && r.finishReason !== "cancelled") e.errors++;
    if (r.finishReason === "cancelled") e.cancelled++;
    if (r.cacheHit) e.cache_hits++;
    out.set(g, e);
  }
  return out;
}

/** The same behaviour, whatever the database: run once against PostgreSQL and once against PGlite. */
export function storeSuite(backend: Backend): void {
  describe(`${backend.name}: migrations`, () => {
    test("the schema is created at the first open, and opening again applies nothing", async () => {
      const db = await backend.create();
      try {
        let store = await db.open();
        const first = (await store.query<{ version: number; name: string; applied_at: Date }>("SELECT version, name, applied_at FROM hearth_migrations ORDER BY version")).rows;
        assert.deepEqual(first.map((m) => [m.version, m.name]), migrations.map((m) => [m.version, m.name]));
        assert.deepEqual(await migrate(store), { applied: [], version: migrations.length });
        await store.close();

        store = await db.open();
        const again = (await store.query<{ version: number; applied_at: Date }>("SELECT version, applied_at FROM hearth_migrations ORDER BY version")).rows;
        assert.deepEqual(again, first.map((m) => ({ version: m.version, applied_at: m.applied_at })));
        for (const table of ["api_keys", "usage_log", "usage_batches"]) {
          assert.equal((await store.query(`SELECT 1 FROM ${table} LIMIT 1`)).rowCount, 0, `${table} exists and is empty`);
        }
        await store.close();
      } finally {
        await db.drop();
      }
    });

    test("a failing migration leaves nothing behind, and a store cannot be used after close", async () => {
      const db = await backend.create();
      try {
        const store = await db.open();
        const bad = [...migrations, { version: 99, name: "half", sql: "CREATE TABLE half_done (x int); SELECT no_such_function();" }];
        await assert.rejects(migrate(store, { migrations: bad }));
        assert.equal((await store.query("SELECT 1 FROM hearth_migrations WHERE version = 99")).rowCount, 0);
        assert.equal((await store.query("SELECT 1 FROM pg_tables WHERE tablename = 'half_done'")).rowCount, 0);
        await store.close();
        await assert.rejects(store.query("SELECT 1"), { name: "StoreClosedError" });
      } finally {
        await db.drop();
      }
    });
  });

  describe(`${backend.name}: keys and usage`, () => {
    const db = useDatabase(backend);
    let store: Store;
    beforeEach(() => { store = db(); });

    test("a created key verifies; its plaintext is shown once and never stored or listed", async () => {
      const keys = await KeyStore.open(store);
      try {
        const { key, record } = await keys.create({ name: "alice", models: ["m1", "m2"], rpm: 60, tpm: 10_000, maxParallel: 2 });
        assert.match(key, /^hth-[A-Za-z0-9_-]{43}$/);
        assert.equal(record.prefix, key.slice(0, 8));
        assert.deepEqual({ ...record, models: [...record.models!] }, {
          id: record.id, name: "alice", prefix: key.slice(0, 8), models: ["m1", "m2"], rpm: 60, tpm: 10_000, maxParallel: 2,
          createdAt: record.createdAt, revokedAt: null,
        });
        assert.ok(record.createdAt instanceof Date);
        assert.equal(keys.verify(key)?.name, "alice");
        assert.equal(keys.verify(key.slice(0, -1) + (key.endsWith("A") ? "B" : "A")), null, "a key differing in one character");
        assert.equal(keys.verify(""), null);
        assert.equal(keys.verify("Bearer " + key), null);

        const { key: unlimitedKey } = await keys.create({ name: "bob" });
        const bob = keys.verify(unlimitedKey)!;
        assert.deepEqual([bob.models, bob.rpm, bob.tpm, bob.maxParallel], [null, null, null, null]);

        const listed = await keys.list();
        assert.deepEqual(listed.map((k) => k.name), ["alice", "bob"]);
        const dump = JSON.stringify(listed) + JSON.stringify((await store.query("SELECT * FROM api_keys")).rows);
        assert.ok(!dump.includes(key) && !dump.includes(unlimitedKey), "no plaintext key in the list or the table");
        assert.ok(!JSON.stringify(listed).includes((await store.query<{ key_hash: string }>("SELECT key_hash FROM api_keys WHERE name = 'alice'")).rows[0]!.key_hash), "no hash in the list");
        assert.ok(listed.every((k) => !("key" in k) && !("keyHash" in k) && !("key_hash" in k)));
      } finally {
        keys.close();
        await store.exec("DELETE FROM api_keys");
      }
    });

    test("names are unique among active keys; bad specs are refused with 400", async () => {
      const keys = await KeyStore.open(store);
      try {
        await keys.create({ name: "dup" });
        await assert.rejects(keys.create({ name: "dup" }), (e: unknown) => HearthError.is(e) && e.code === "key_exists" && e.statusCode === 409);
        await keys.revoke("dup");
        await keys.create({ name: "dup" }); // a revoked key's name can be reused
        assert.equal((await keys.list({ includeRevoked: true })).filter((k) => k.name === "dup").length, 2);
        for (const spec of [{ name: "" }, { name: "has space" }, { name: "x".repeat(65) }, { name: "ok", rpm: 0 }, { name: "ok", tpm: 1.5 }, { name: "ok", maxParallel: -1 }, { name: "ok", models: [] }]) {
          await assert.rejects(keys.create(spec), (e: unknown) => HearthError.is(e) && e.statusCode === 400, JSON.stringify(spec));
        }
      } finally {
        keys.close();
        await store.exec("DELETE FROM api_keys");
      }
    });

    test("a revoked key stops verifying here at once, and in another instance after its refresh", async () => {
      const here = await KeyStore.open(store);
      const { key } = await here.create({ name: "carol" });
      const other = await KeyStore.open(store, { refreshMs: 60_000 });
      const polling = await KeyStore.open(store, { refreshMs: 20 });
      try {
        assert.equal(other.verify(key)?.name, "carol");
        assert.equal(polling.verify(key)?.name, "carol");
        const revoked = await here.revoke("carol");
        await waitUntil(() => polling.verify(key) === null, "the periodic refresh sees the revoke");
        assert.ok(revoked.revokedAt instanceof Date);
        assert.equal(here.verify(key), null);
        assert.equal(other.verify(key)?.name, "carol", "not seen before the refresh");
        await other.refresh();
        assert.equal(other.verify(key), null);
        await assert.rejects(here.revoke("carol"), (e: unknown) => HearthError.is(e) && e.code === "key_not_found" && e.statusCode === 404);
        assert.deepEqual((await here.list()).map((k) => k.name), []);
        assert.equal((await here.list({ includeRevoked: true }))[0]?.name, "carol");

        const { key: later } = await here.create({ name: "dave" });
        assert.equal(other.verify(later), null);
        await other.refresh();
        assert.equal(other.verify(later)?.name, "dave", "a key created elsewhere works after a refresh");
      } finally {
        here.close();
        other.close();
        polling.close();
        await store.exec("DELETE FROM api_keys");
      }
    });

    test("verify takes well under 0.05 ms", async () => {
      const keys = await KeyStore.open(store);
      try {
        const created = await Promise.all(Array.from({ length: 20 }, (_, i) => keys.create({ name: `speed-${i}` })));
        const valid = created.map((c) => c.key);
        const invalid = valid.map((k) => k.slice(0, -2) + "zz");
        const n = 50_000;
        const start = performance.now();
        for (let i = 0; i < n; i++) {
          if (!keys.verify(valid[i % valid.length]!)) throw new Error("valid key refused");
          if (keys.verify(invalid[i % invalid.length]!)) throw new Error("invalid key accepted");
        }
        const perCallMs = (performance.now() - start) / (2 * n);
        assert.ok(perCallMs < 0.05, `verify took ${perCallMs} ms`);
      } finally {
        keys.close();
        await store.exec("DELETE FROM api_keys");
      }
    });

    test("usage rows are written in batches and the report's sums are exact for every grouping", async () => {
      const window = newWindow(3);
      const log = new UsageLog(store, { batchSize: 500, flushIntervalMs: 60_000 });
      const rows: UsageRow[] = [];
      for (let i = 0; i < 1234; i++) {
        const r = row({
          ts: new Date(window.from.getTime() + ((i * 7_919_000) % (3 * DAY))),
          keyName: [null, "alice", "bob"][i % 3]!,
          model: ["m1", "m2"][i % 2]!,
          status: i % 17 === 0 ? 500 : i % 13 === 0 ? 429 : 200,
          finishReason: i % 17 === 0 ? "error" : i % 5 === 0 ? "cancelled" : "stop",
          promptTokens: i % 100,
          cachedTokens: i % 7,
          completionTokens: (i * 3) % 50,
          cacheHit: i % 11 === 0,
        });
        rows.push(r);
        log.record(r);
      }
      await log.flush();
      assert.deepEqual(log.stats(), { written: 1234, pending: 0, dropped: 0, refused: 0, failures: 0, batches: 3 });
      assert.deepEqual(await countRows(store, rows.map((r) => r.requestId)), { rows: 1234, distinct: 1234 });

      const day = (r: UsageRow) => r.ts.toISOString().slice(0, 10);
      const cases = [
        { groupBy: "key" as const, group: (r: UsageRow) => r.keyName },
        { groupBy: "model" as const, group: (r: UsageRow) => r.model },
        { groupBy: "day" as const, group: day },
      ];
      for (const c of cases) {
        const report = await usageReport(store, { from: window.from, to: window.to, groupBy: c.groupBy });
        const expected = expectedReport(rows, c.group);
        assert.deepEqual(new Map(report.map(({ group, ...sums }) => [group, sums])), expected, c.groupBy);
      }
      const days = (await usageReport(store, { ...window, groupBy: "day" })).map((r) => r.group);
      assert.deepEqual(days, [...days].sort(), "days in order");
      assert.equal(days.length, 3);

      const alice = await usageReport(store, { ...window, groupBy: "model", key: "alice" });
      assert.deepEqual(new Map(alice.map(({ group, ...sums }) => [group, sums])), expectedReport(rows.filter((r) => r.keyName === "alice"), (r) => r.model));

      // [from, to): a row at `to` is outside.
      const edge = newWindow(1);
      const edgeLog = new UsageLog(store);
      edgeLog.record(row({ ts: edge.from }));
      edgeLog.record(row({ ts: edge.to }));
      await edgeLog.close();
      assert.equal((await usageReport(store, { ...edge, groupBy: "day" }))[0]?.requests, 1);
      log.close();
    });

    test("when the buffer is full the newest rows are dropped and counted, with one warning", async () => {
      const { lines, log } = captureLog();
      const usage = new UsageLog(store, { maxBuffered: 10, batchSize: 100, flushIntervalMs: 60_000, log });
      const rows = Array.from({ length: 15 }, () => row());
      for (const r of rows) usage.record(r);
      assert.deepEqual(usage.stats(), { written: 0, pending: 10, dropped: 5, refused: 0, failures: 0, batches: 0 });
      assert.equal(lines.filter((l) => l.level === "warn").length, 1, "one warning, not one per row");
      assert.match(lines[0]!.message, /buffer is full \(10 rows\)/);

      await usage.flush();
      assert.deepEqual(await countRows(store, rows.slice(0, 10).map((r) => r.requestId)), { rows: 10, distinct: 10 }, "the oldest 10 are kept");
      assert.deepEqual(await countRows(store, rows.slice(10).map((r) => r.requestId)), { rows: 0, distinct: 0 }, "the newest 5 are dropped");
      assert.match(lines.at(-1)!.message, /room again; 5 usage rows were dropped/);

      const more = row();
      usage.record(more);
      await usage.close();
      assert.deepEqual(await countRows(store, [more.requestId]), { rows: 1, distinct: 1 }, "rows are taken again once there is room");
      assert.deepEqual(usage.stats(), { written: 11, pending: 0, dropped: 5, refused: 0, failures: 0, batches: 2 });
    });

    test("close writes what is buffered; rows recorded after close are counted as dropped", async () => {
      const usage = new UsageLog(store, { flushIntervalMs: 60_000 });
      const rows = Array.from({ length: 7 }, () => row());
      for (const r of rows) usage.record(r);
      assert.equal(usage.pending, 7);
      await usage.close();
      assert.deepEqual(await countRows(store, rows.map((r) => r.requestId)), { rows: 7, distinct: 7 });
      usage.record(row());
      assert.deepEqual(usage.stats(), { written: 7, pending: 0, dropped: 1, refused: 0, failures: 0, batches: 1 });
    });

    test("a batch written twice under its id is inserted once", async () => {
      const rows = [row(), row(), row()];
      const id = randomUUID();
      assert.equal(await insertUsageBatch(store, id, rows), 3);
      assert.equal(await insertUsageBatch(store, id, rows), 0);
      assert.deepEqual(await countRows(store, rows.map((r) => r.requestId)), { rows: 3, distinct: 3 });
    });

    test("a batch that committed but whose answer was lost is retried without writing its rows twice", async () => {
      let lose = 1;
      const lossy = {
        query: async <T,>(sql: string, params?: unknown[]) => {
          const r = await store.query<T>(sql, params);
          if (lose-- > 0) throw Object.assign(new Error("Connection terminated unexpectedly"), { code: undefined });
          return r;
        },
        exec: (sql: string) => store.exec(sql),
      };
      const usage = new UsageLog(lossy, { flushIntervalMs: 60_000, retryMinMs: 1 });
      const rows = Array.from({ length: 5 }, () => row());
      for (const r of rows) usage.record(r);
      await usage.close();
      assert.deepEqual(await countRows(store, rows.map((r) => r.requestId)), { rows: 5, distinct: 5 });
      assert.deepEqual(usage.stats(), { written: 5, pending: 0, dropped: 0, refused: 0, failures: 1, batches: 1 });
    });

    test("values the columns cannot take are cleaned rather than failing the batch", async () => {
      const usage = new UsageLog(store, { flushIntervalMs: 60_000 });
      const bad = row({ promptTokens: 1.6, completionTokens: Number.NaN, cachedTokens: -3, queueMs: Number.POSITIVE_INFINITY, ts: new Date(Number.NaN) });
      usage.record(bad);
      await usage.close();
      const r = await store.query<{ prompt_tokens: number; completion_tokens: number; cached_tokens: number; queue_ms: number }>(
        "SELECT prompt_tokens, completion_tokens, cached_tokens, queue_ms FROM usage_log WHERE request_id = $1", [bad.requestId]);
      assert.deepEqual(r.rows, [{ prompt_tokens: 2, completion_tokens: 0, cached_tokens: 0, queue_ms: 0 }]);
      assert.equal(usage.failures, 0);
    });

    test("a report over a short range reads the indexes, not the whole log", async () => {
      const window = newWindow(400);
      // 40,000 rows over 400 days, straight in SQL.
      await store.query(
        `INSERT INTO usage_log (ts, request_id, key_name, model, route, status, prompt_tokens, cached_tokens, completion_tokens, queue_ms, duration_ms, cache_hit)
         SELECT $1::timestamptz + (i * interval '864 seconds'), 'bulk-' || i, 'k' || (i % 20), 'm' || (i % 5), '/v1/completions', 200, 1, 0, 1, 0, 0, false
         FROM generate_series(0, 39999) AS i`,
        [window.from.toISOString()],
      );
      await store.exec("ANALYZE usage_log");
      const explain = { query: <T,>(sql: string, params?: unknown[]) => store.query<T>(`EXPLAIN ${sql}`, params), exec: (sql: string) => store.exec(sql) };
      const oneDay = { from: new Date(window.from.getTime() + 100 * DAY), to: new Date(window.from.getTime() + 101 * DAY) };
      const plan = async (q: Parameters<typeof usageReport>[1]) =>
        (await usageReport(explain, q) as unknown as { "QUERY PLAN": string }[]).map((r) => r["QUERY PLAN"]).join("\n");
      for (const q of [{ groupBy: "model" as const }, { groupBy: "key" as const }, { groupBy: "day" as const, key: "k3" }]) {
        const text = await plan({ ...oneDay, ...q });
        assert.match(text, /(Index Scan using|Bitmap Index Scan on) usage_log_(ts|key_ts|model_ts) /, text);
        assert.doesNotMatch(text, /Seq Scan/, text);
      }
      const report = await usageReport(store, { ...oneDay, groupBy: "key" });
      assert.equal(report.reduce((n, r) => n + r.requests, 0), 100);
    });
  });
}
