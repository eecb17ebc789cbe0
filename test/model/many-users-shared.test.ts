import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { Redis } from "ioredis";
import pg from "pg";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { startTcpProxy } from "../helpers/tcpProxy.ts";
import { waitUntil } from "../helpers/wait.ts";

/**
 * Hearth on the machine's real PostgreSQL and Redis: two servers (each with its own connections and
 * runner process, in this test's process) share one rate limit through Redis and one key table
 * through PostgreSQL; connections cut by a TCP proxy do not fail requests or lose usage rows.
 * Each test has a schema and a Redis key prefix of its own, removed at the end.
 */
const PG = "postgres://postgres@127.0.0.1:5432/test";
const ADMIN = "admin-key-for-shared-tests-0123456789";
const schema = `hearth_test_${randomBytes(4).toString("hex")}`;
const prefix = `hearth-test-${randomBytes(4).toString("hex")}:`;
after(async () => {
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
  const redis = new Redis("redis://127.0.0.1:6379");
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

const shared = (over: Record<string, unknown> = {}) => ({ auth: "required", admin_key: ADMIN, database_url: PG, database_schema: schema, redis_url: "redis://127.0.0.1:6379", redis_prefix: prefix, ...over });
const ask = (s: TestServer, key: string, prompt: string) =>
  post(`${s.url}/v1/completions`, { model: "tiny", prompt, max_tokens: 2 }, { authorization: `Bearer ${key}`, "content-type": "application/json" });

test("two servers sharing Redis enforce one limit: the requests accepted in the window equal the key's rpm", async () => {
  const [one, two] = [await startServer({ config: shared() }), await startServer({ config: shared() })];
  try {
    const created = await post(`${one.url}/v1/admin/keys`, { name: "shared", rpm: 10 }, { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" });
    assert.equal(created.status, 201);
    const key = created.json.key as string;
    await waitUntil(async () => (await ask(two, key, "warm")).status !== 401, "the other server reads the new key from PostgreSQL", 8000);
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => ask(i % 2 ? one : two, key, `p${i}`)));
    const accepted = results.filter((r) => r.status === 200).length;
    assert.equal(accepted + 1, 10, "the warm-up request plus these fill the limit exactly");
    assert.ok(results.every((r) => r.status === 200 || r.json.error?.code === "rate_limit_exceeded"));
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});

test("Redis and PostgreSQL cut mid-load: no request fails because of it, and every finished request has its usage row", async () => {
  const pgProxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
  const redisProxy = await startTcpProxy({ host: "127.0.0.1", port: 6379 });
  const s = await startServer({ config: shared({ database_url: `postgres://postgres@127.0.0.1:${pgProxy.port}/test`, redis_url: `redis://127.0.0.1:${redisProxy.port}`, cache: { enabled: true } }) });
  try {
    const created = await post(`${s.url}/v1/admin/keys`, { name: "faulty", rpm: 1000, tpm: 1_000_000 }, { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" });
    const key = created.json.key as string;
    const statuses: number[] = [];
    const load = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) statuses.push((await ask(s, key, `${tag}${i}`)).status);
    };
    const redis = new Redis("redis://127.0.0.1:6379");
    const limitKeys = async () => (await redis.keys(`${prefix}ratelimit:*`)).length;
    const flushLimits = async () => { const k = await redis.keys(`${prefix}ratelimit:*`); if (k.length) await redis.del(...k); };
    await load(5, "before");
    assert.ok((await limitKeys()) > 0, "the limits were kept in Redis before the cut");
    await flushLimits();
    pgProxy.cut();
    redisProxy.cut();
    await load(10, "during");
    redisProxy.blackhole();
    await load(5, "stalled");
    pgProxy.restore();
    redisProxy.restore();
    assert.equal(await limitKeys(), 0, "while cut, this process's own limits were used");
    await waitUntil(async () => {
      await load(1, "after");
      return (await limitKeys()) > 0;
    }, "Redis is used again once it is back", 10_000);
    redis.disconnect();
    while (statuses.length < 25) await load(1, "more");
    assert.deepEqual(statuses, Array(statuses.length).fill(200), "every request was served");
    type Row = { group: string; requests: number };
    await waitUntil(async () => {
      const usage = await fetch(`${s.url}/v1/usage?group_by=key`, { headers: { authorization: `Bearer ${ADMIN}` } });
      if (usage.status !== 200) return false;
      return ((await usage.json()) as { data: Row[] }).data.find((r) => r.group === "faulty")?.requests === statuses.length;
    }, "every row is written once PostgreSQL is back", 30_000);
  } finally {
    await s.close();
    await pgProxy.close();
    await redisProxy.close();
  }
});
