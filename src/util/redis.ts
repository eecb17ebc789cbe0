import { Redis, type RedisOptions } from "ioredis";

/**
 * Redis for the parts of Hearth that share state between processes (rate limits, the response
 * cache), with one fault policy: Redis is an accelerator, never something a request waits on.
 *
 * - Every command is bounded: `commandTimeout`, and no offline queue, so a command sent while the
 *   connection is down fails at once instead of piling up in memory until it returns.
 * - A command that was in flight when the connection dropped is never resent (a resent rate-limit
 *   acquire would count twice) and is failed at the first reconnect attempt.
 * - A connection that stops answering is destroyed after `socketTimeout` and reconnected with a
 *   capped backoff, forever, so Redis is picked up again when it returns.
 * - `error` events are consumed here: the callers' circuit breakers log a fault once, not the
 *   client once per reconnect attempt.
 */

export interface RedisClientOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`. */
  url: string;
  /** Per-command bound, in ms. Defaults to 50 (a Redis command on a LAN takes about 1 ms). */
  commandTimeoutMs?: number;
  /** TCP connect bound, in ms. Defaults to 1000. */
  connectTimeoutMs?: number;
  /** A connection with commands pending and no byte received for this long is dropped, in ms. Defaults to 1000. */
  socketTimeoutMs?: number;
  /** Cap of the reconnect backoff, in ms. Defaults to 1000. */
  maxReconnectDelayMs?: number;
  /** `CLIENT SETNAME`, to find Hearth's connections in `CLIENT LIST`. Defaults to "hearth". */
  connectionName?: string;
}

export const REDIS_CLIENT_DEFAULTS = {
  commandTimeoutMs: 50,
  connectTimeoutMs: 1000, // 1 second
  socketTimeoutMs: 1000, // 1 second
  maxReconnectDelayMs: 1000, // 1 second
  connectionName: "hearth",
} as const;

/** An ioredis client with Hearth's fault policy (see the top of this file). */
export function createRedisClient(opts: RedisClientOptions): Redis {
  const o = { ...REDIS_CLIENT_DEFAULTS, ...opts };
  const options: RedisOptions = {
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: o.connectTimeoutMs,
    socketTimeout: o.socketTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, o.maxReconnectDelayMs),
    connectionName: o.connectionName,
  };
  const client = new Redis(o.url, options);
  client.on("error", () => {});
  return client;
}

/** Resolves true once the client is ready, false if it is not within `timeoutMs`. Never rejects. */
export async function redisReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === "ready") return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on("ready", onReady);
  });
}

/** Closes the client: QUIT if Redis answers within the command timeout, else drops the socket. */
export async function closeRedisClient(client: Redis): Promise<void> {
  await client.quit().catch(() => {});
  client.disconnect();
}

/** What the breaker logs with; a pino logger fits. */
export interface BreakerLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface CircuitBreakerOptions {
  /** Who uses Redis through this breaker, for the log lines ("rate limiter", "response cache"). */
  name: string;
  logger?: BreakerLogger;
  /** Bound on each call, in ms, whatever the client does. Defaults to 50. */
  timeoutMs?: number;
  /** Consecutive failures that open the breaker. Defaults to 3. */
  failureThreshold?: number;
  /** Time the breaker stays open before one call probes Redis again, in ms. Defaults to 1000. */
  cooldownMs?: number;
  /** Clock, in ms. Defaults to `performance.now`. */
  now?: () => number;
}

export type BreakerState = "closed" | "open" | "half-open";

export class CallTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis call took longer than ${ms} ms`);
    this.name = "CallTimeoutError";
  }
}

/**
 * Runs calls to Redis with a deadline and a fallback. Closed: calls go to Redis; after
 * `failureThreshold` failures in a row it opens (one warn line). Open: calls take the fallback at
 * once. After `cooldownMs` one call probes Redis (half-open) while the others keep to the
 * fallback: success closes it (one info line), failure opens it again, silently.
 */
export class CircuitBreaker {
  readonly name: string;
  readonly #logger: BreakerLogger | undefined;
  readonly #timeoutMs: number;
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  #state: BreakerState = "closed";
  #failures = 0;
  #openedAt = 0;
  #opens = 0;

  constructor(opts: CircuitBreakerOptions) {
    this.name = opts.name;
    this.#logger = opts.logger;
    this.#timeoutMs = opts.timeoutMs ?? 50;
    this.#threshold = opts.failureThreshold ?? 3;
    this.#cooldownMs = opts.cooldownMs ?? 1000;
    this.#now = opts.now ?? (() => performance.now());
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** How many times it has opened. */
  get opens(): number {
    return this.#opens;
  }

  /**
   * `primary()` within the deadline if the breaker lets it through, else (or if it fails)
   * `fallback(err)`; `err` is undefined when Redis was not tried. `fallback` should not throw.
   */
  async run<T>(primary: () => Promise<T>, fallback: (err: unknown) => T | Promise<T>): Promise<T> {
    if (!this.#admit()) return fallback(undefined);
    try {
      const value = await withDeadline(primary(), this.#timeoutMs);
      this.#succeeded();
      return value;
    } catch (err) {
      this.#failed(err);
      return fallback(err);
    }
  }

  #admit(): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "half-open") return false; // a probe is in flight
    if (this.#now() - this.#openedAt < this.#cooldownMs) return false;
    this.#state = "half-open";
    return true;
  }

  #succeeded(): void {
    this.#failures = 0;
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#logger?.info({ breaker: this.name }, `Redis is reachable again: the ${this.name} uses it again`);
  }

  #failed(err: unknown): void {
    this.#failures++;
    if (this.#state !== "closed") {
      this.#state = "open";
      this.#openedAt = this.#now();
      return;
    }
    if (this.#failures < this.#threshold) return;
    this.#state = "open";
    this.#openedAt = this.#now();
    this.#opens++;
    this.#logger?.warn(
      { breaker: this.name, err: err instanceof Error ? err.message : String(err) },
      `Redis is unavailable: the ${this.name} uses its in-process fallback until Redis answers again`,
    );
  }
}

/** `promise`, or a CallTimeoutError after `ms`; the late outcome of `promise` is ignored. */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CallTimeoutError(ms)), ms);
  });
  promise.catch(() => {}); // settled after the deadline: nobody listens any more
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
