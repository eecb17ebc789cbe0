import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { HearthError } from "../../src/errors.ts";
import { KeyStore } from "../../src/store/KeyStore.ts";
import type { Store } from "../../src/store/Store.ts";
import { UsageLog } from "../../src/store/UsageLog.ts";
import { usageReport } from "../../src/store/usageReport.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcpProxy.ts";
import { captureLog, PG_URL, postgres, type TestDatabase } from "./backends.ts";
import { row } from "./storeSuite.ts";

/**
 * PostgreSQL going away under load, through a TCP proxy: the server itself keeps running. Short
 * timeouts, so that a stalled connection is given up on in a second rather than in half a minute.
 */
let proxy: TcpProxy;
let db: TestDatabase;
let store: Store;
let direct: Store;
before(async () => {
  proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(PG_URL).port || 5432) });
  db = await postgres.create();
  const url = new URL(PG_URL);
  url.port = String(proxy.port);
  direct = await db.open();
  store = await db.open({ databaseUrl: url.toString(), postgres: { connectionTimeoutMs: 500, statementTimeoutMs: 1000, queryTimeoutMs: 800 } });
});
after(async () => {
  proxy.restore();
  await store.close();
  await direct.close();
  await db.drop();
  await proxy.close();
});

async function count(requestIds: string[]): Promise<{ rows: number; distinct: number }> {
  const r = await direct.query<{ rows: number; distinct: number }>(
    "SELECT count(*) AS rows, count(DISTINCT request_id) AS distinct FROM usage_log WHERE request_id = ANY($1::text[])", [requestIds]);
  return r.rows[0]!;
}

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test("rows recorded while the database is cut are kept, and written exactly once when it is back", async () => {
  const { lines, log } = captureLog();
  const usage = new UsageLog(store, { batchSize: 50, flushIntervalMs: 10, retryMinMs: 10, retryMaxMs: 100, log });
  const rows = Array.from({ length: 3000 }, (_, i) => row({ requestId: `cut-${i}` }));
  let next = 0;
  const feed = async (upTo: number) => {
    // In bursts, as requests finish, with the event loop (and the writer) running in between.
    for (; next < upTo; next++) {
      usage.record(rows[next]!);
      if (next % 25 === 0) await new Promise((r) => setImmediate(r));
    }
  };

  await feed(1000);
  proxy.cut();
  await feed(2000);
  await until(() => usage.failures > 0, "a write fails");
  assert.ok(usage.pending > 0);
  proxy.restore();
  await feed(3000);
  await usage.flush(5000);

  assert.deepEqual(await count(rows.map((r) => r.requestId)), { rows: 3000, distinct: 3000 });
  const stats = usage.stats();
  assert.deepEqual({ written: stats.written, pending: stats.pending, dropped: stats.dropped }, { written: 3000, pending: 0, dropped: 0 });
  assert.ok(stats.failures > 0);
  assert.equal(lines.filter((l) => /cannot write/.test(l.message)).length, 1, "one warning per outage, not per retry");
  assert.ok(lines.some((l) => /reachable again/.test(l.message)));
  await usage.close();
});

test("a database that stops answering: calls fail within the timeouts, flush gives up, and catches up once it answers", async () => {
  const { lines, log } = captureLog();
  const keys = await KeyStore.open(store, { refreshMs: 60_000, log });
  const { key } = await keys.create({ name: "hang" });
  const usage = new UsageLog(store, { flushIntervalMs: 60_000, retryMinMs: 10, retryMaxMs: 50 });
  const rows = Array.from({ length: 20 }, (_, i) => row({ requestId: `hang-${i}` }));
  try {
    proxy.blackhole();
    for (const r of rows) usage.record(r);

    let start = Date.now();
    await assert.rejects(store.query("SELECT 1"));
    assert.ok(Date.now() - start < 3000, `gave up after ${Date.now() - start} ms`);

    start = Date.now();
    await assert.rejects(usage.flush(300), /could not be written within 300 ms/);
    assert.ok(Date.now() - start < 1000);
    assert.equal(usage.pending, 20, "rows stay buffered");

    await assert.rejects(keys.refresh(), (e: unknown) => HearthError.is(e) && e.code === "store_unavailable" && e.statusCode === 503);
    assert.equal(keys.verify(key)?.name, "hang", "keys read before the outage stay in force");
    await assert.rejects(keys.create({ name: "during" }), (e: unknown) => HearthError.is(e) && e.code === "store_unavailable");
    await assert.rejects(usageReport(store, { from: new Date(0), to: new Date(), groupBy: "day" }), (e: unknown) => HearthError.is(e) && e.statusCode === 503);

    proxy.restore();
    await usage.flush(5000);
    assert.deepEqual(await count(rows.map((r) => r.requestId)), { rows: 20, distinct: 20 });
    await keys.refresh();
    assert.equal(lines.filter((l) => l.level === "warn").length, 1);
    assert.match(lines.at(-1)!.message, /read again/);
  } finally {
    proxy.restore();
    keys.close();
    await usage.close();
  }
});
