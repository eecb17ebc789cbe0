/**
 * What many users cost per request: the same cached request (no model work, so only the HTTP
 * layer is measured) against servers that differ only in what runs before and after it:
 *   none        auth off, no usage log
 *   keys        auth required + a key with rpm/tpm/in-flight limits (in memory) + usage log (PGlite)
 *   keys+redis  the same with limits and cache in Redis and the usage log in PostgreSQL
 * Closed loop, one request at a time, servers taking turns in rounds so drift hits all alike.
 *
 *   npm run bench:users -- [--requests 3000] [--rounds 3]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { build } from "hdr-histogram-js";
import pg from "pg";
import { createHearth, type Hearth } from "../src/cli/serve.ts";
import { resolveConfig, type ConfigLayer } from "../src/config/loadConfig.ts";
import { cacheDir } from "../src/config/dataDir.ts";
import { generateModel } from "../src/models/generator/generateModel.ts";
import { presets } from "../src/models/generator/presets.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "3000" }, rounds: { type: "string", default: "3" } } });
const perRound = Math.ceil(Number(values.requests) / Number(values.rounds));
const ADMIN = "bench-admin-key-0123456789abcdef";
const model = join(cacheDir(), "models", "bench-users-tiny.gguf");
await generateModel({ ...presets.tiny, out: model, seed: 1, name: "tiny" });
const schema = `hearth_bench_${process.pid}`;

const dirs: string[] = [];
async function server(over: ConfigLayer): Promise<{ hearth: Hearth; url: string; key: string | null }> {
  const dir = await mkdtemp(join(tmpdir(), "hearth-bench-users-"));
  dirs.push(dir);
  const hearth = await createHearth(resolveConfig({
    port: 0, log_level: "silent", data_dir: dir, models_dir: join(dir, "models"),
    model: { path: model, name: "tiny", threads: 1, gpu: "cpu" }, batching: { max_batch_size: 2 },
  }, over), () => {});
  const url = await hearth.listen();
  await hearth.start();
  let key: string | null = null;
  if (over.auth === "required") {
    const res = await fetch(`${url}/v1/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ name: "bench", rpm: 1e9, tpm: 2e9, max_parallel: 1000 }) });
    const created = (await res.json()) as { key?: string };
    if (!created.key) throw new Error(`creating a key: ${JSON.stringify(created)}`);
    key = created.key;
  }
  return { hearth, url, key };
}

const dropSchema = async () => {
  const client = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
};

const servers = {
  none: await server({ usage: { enabled: false } }),
  keys: await server({ auth: "required", admin_key: ADMIN }),
  "keys+redis": await server({ auth: "required", admin_key: ADMIN, redis_url: "redis://127.0.0.1:6379", redis_prefix: `hearth-bench-${process.pid}:`, database_url: "postgres://postgres@127.0.0.1:5432/test", database_schema: schema }),
};
const body = JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "the same question" }], max_tokens: 8, temperature: 0 });
const send = async (s: (typeof servers)[keyof typeof servers]) => {
  const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...(s.key ? { authorization: `Bearer ${s.key}` } : {}) }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text}`);
  return res.headers.get("x-hearth-cache");
};
const histograms = Object.fromEntries(Object.keys(servers).map((name) => [name, build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 })]));
const seconds: Record<string, number> = Object.fromEntries(Object.keys(servers).map((n) => [n, 0]));
for (const s of Object.values(servers)) for (let i = 0; i < 200; i++) await send(s); // warm up, fill the cache
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, s] of Object.entries(servers)) {
    const started = performance.now();
    for (let i = 0; i < perRound; i++) {
      const t = performance.now();
      const cached = await send(s);
      if (cached !== "hit") throw new Error(`${name}: not a cache hit (${cached})`);
      histograms[name]!.recordValue(Math.round((performance.now() - t) * 1000)); // µs
    }
    seconds[name]! += (performance.now() - started) / 1000;
  }
}
const ms = (us: number) => (us / 1000).toFixed(3);
const base = histograms.none!.getValueAtPercentile(50);
console.log(`${perRound * Number(values.rounds)} cached requests per server, one at a time, ${values.rounds} rounds\n`);
console.log("| server | requests/s | P50 ms | P90 ms | P99 ms | P50 over none ms |");
console.log("|---|---|---|---|---|---|");
for (const [name, h] of Object.entries(histograms)) {
  console.log(`| ${name} | ${((perRound * Number(values.rounds)) / seconds[name]!).toFixed(0)} | ${ms(h.getValueAtPercentile(50))} | ${ms(h.getValueAtPercentile(90))} | ${ms(h.getValueAtPercentile(99))} | ${ms(h.getValueAtPercentile(50) - base)} |`);
}
for (const s of Object.values(servers)) await s.hearth.close();
await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
await dropSchema();
