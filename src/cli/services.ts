import type { Logger } from "pino";
import type { Redis } from "ioredis";
import { createResponseCache } from "../cache/createResponseCache.ts";
import type { ResponseCache } from "../cache/ResponseCache.ts";
import { dataDir } from "../config/dataDir.ts";
import { ConfigError } from "../config/loadConfig.ts";
import type { Config } from "../config/schema.ts";
import { createRateLimiter } from "../limits/createRateLimiter.ts";
import type { RateLimiter } from "../limits/types.ts";
import { ConversationStore } from "../store/ConversationStore.ts";
import { KeyStore } from "../store/KeyStore.ts";
import { ResponseStore } from "../store/ResponseStore.ts";
import { openStore } from "../store/openStore.ts";
import type { Store } from "../store/Store.ts";
import { UsageJournal } from "../store/UsageJournal.ts";
import { UsageLog } from "../store/UsageLog.ts";
import { usageReport, type UsageReportQuery } from "../store/usageReport.ts";
import { createRedisClient } from "../util/redis.ts";

/** What the server does with usage rows: a UsageLog, or nothing when `usage.enabled` is false. */
export type UsageRecorder = Pick<UsageLog, "started" | "record" | "close" | "written" | "pending" | "dropped" | "refused">;
const NO_USAGE_LOG: UsageRecorder = { started() {}, record() {}, close: async () => {}, written: 0, pending: 0, dropped: 0, refused: 0 };

/** What many users need beside the models: the store (keys, usage), limits and the cache. */
export interface Services {
  store: Store;
  keys: KeyStore;
  /** The web app's conversations. */
  conversations: ConversationStore;
  /** OpenAI Responses API objects kept with `store`. */
  responses: ResponseStore;
  usage: UsageRecorder;
  report: (q: UsageReportQuery) => ReturnType<typeof usageReport>;
  limiter: RateLimiter;
  cache: ResponseCache | undefined;
  /** Flushes the usage log, then closes everything. */
  close(): Promise<void>;
}

/**
 * Opens the store (PostgreSQL with DATABASE_URL, else PGlite in the data folder), and Redis when
 * REDIS_URL is set (rate limits and the cache then shared by every Hearth process; in this
 * process's memory otherwise, and while Redis is down).
 */
export async function openServices(config: Readonly<Config>, logger: Logger): Promise<Services> {
  if (config.auth === "required" && !config.admin_key) {
    throw new ConfigError("auth: required needs an admin key (HEARTH_ADMIN_KEY or --admin-key), or nobody could create keys");
  }
  const log = (level: "debug" | "info" | "warn" | "error", message: string) => logger[level]({ component: "store" }, message);
  const data = config.data_dir ?? dataDir();
  const store = await openStore({
    ...(config.database_url ? { databaseUrl: config.database_url } : {}),
    dataDir: data,
    ...(config.database_schema !== "public" ? { schema: config.database_schema } : {}),
    log,
  });
  const keys = await KeyStore.open(store, { log });
  let usage = NO_USAGE_LOG;
  if (config.usage.enabled) {
    // Rows a killed process left in its journal are written first (see UsageJournal).
    const opened = await UsageJournal.open({ dir: data, ...(config.database_schema !== "public" ? { schema: config.database_schema } : {}), log }).catch((err: unknown) => {
      log("error", `usage journal: cannot open one in ${data} (${(err as Error).message}); usage rows are kept in memory only until written`);
      return undefined;
    });
    const replay = opened?.replay ?? [];
    if (replay.length > 0) log("info", `usage log: ${replay.length} usage rows left by the previous process are written again (${replay.filter((r) => r.errorType === "interrupted").length} of requests it was serving: interrupted)`);
    usage = new UsageLog(store, { maxBuffered: config.usage.buffer_rows, log, ...(opened ? { journal: opened.journal, replay } : {}) });
  }
  let redis: Redis | undefined;
  if (config.redis_url) {
    redis = createRedisClient({ url: config.redis_url });
  }
  const breakerLog = logger.child({ component: "redis" });
  const limiter = createRateLimiter({ ...(redis ? { redis, prefix: `${config.redis_prefix}ratelimit:` } : {}), logger: breakerLog });
  const cache = config.cache.enabled
    ? createResponseCache({ ...(redis ? { redis, prefix: `${config.redis_prefix}cache:` } : {}), memory: { maxBytes: config.cache.max_bytes }, logger: breakerLog })
    : undefined;
  return {
    store,
    keys,
    conversations: new ConversationStore(store),
    responses: new ResponseStore(store),
    usage,
    report: (q) => usageReport(store, q),
    limiter,
    cache,
    async close() {
      await usage.close().catch((err: unknown) => log("error", `usage log: ${(err as Error).message}`));
      keys.close();
      redis?.disconnect();
      await store.close();
    },
  };
}
