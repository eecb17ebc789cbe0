import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import { errors } from "../errors.ts";
import type { Store, StoreLog } from "./Store.ts";
import { sqlState, storeError } from "./storeErrors.ts";

/** An API key as listed: everything but the key and its hash. */
export interface ApiKey {
  id: number;
  name: string;
  /** The key's first 8 characters (`hth-` and 4 more), to tell keys apart. */
  prefix: string;
  /** Models the key may use; null: all. */
  models: readonly string[] | null;
  /** Requests per minute; null: unlimited. */
  rpm: number | null;
  /** Tokens per minute; null: unlimited. */
  tpm: number | null;
  /** Requests at once; null: unlimited. */
  maxParallel: number | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface NewApiKey {
  /** Letters, digits, `.`, `_`, `-`, `@`; at most 64. Unique among keys not revoked. */
  name: string;
  models?: string[] | null;
  rpm?: number | null;
  tpm?: number | null;
  maxParallel?: number | null;
}

export interface KeyStoreOptions {
  /** How often the keys are read again, so that keys created or revoked by another process take effect here. Defaults to 5000 ms. */
  refreshMs?: number;
  log?: StoreLog;
}

const KEY_PREFIX = "hth-";
/** `hth-` + 32 random bytes in base64url. */
const KEY_LENGTH = KEY_PREFIX.length + 43;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const COLUMNS = "id, name, key_hash, prefix, models, rpm, tpm, max_parallel, created_at, revoked_at";

interface KeyRow {
  id: number;
  name: string;
  key_hash: string;
  prefix: string;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  max_parallel: number | null;
  created_at: Date;
  revoked_at: Date | null;
}

interface Entry {
  hash: Buffer;
  key: Readonly<ApiKey>;
}

const toApiKey = (r: KeyRow): Readonly<ApiKey> => Object.freeze({
  id: Number(r.id),
  name: r.name,
  prefix: r.prefix,
  models: r.models ? Object.freeze([...r.models]) : null,
  rpm: r.rpm,
  tpm: r.tpm,
  maxParallel: r.max_parallel,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

/**
 * API keys: created, listed, revoked in the database; verified from memory on every request.
 * Only sha256(key) is stored. The keys in force are held in a map from hash to record, loaded at
 * open, updated at once by this process's changes and read again every `refreshMs` for others'.
 */
export class KeyStore {
  readonly #store: Store;
  readonly #log: StoreLog;
  #byHash = new Map<string, Entry>();
  /** Bumped by every local change: a refresh that began before one is stale and dropped. */
  #changes = 0;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #failing = false;

  private constructor(store: Store, opts: KeyStoreOptions) {
    this.#store = store;
    this.#log = opts.log ?? (() => {});
  }

  static async open(store: Store, opts: KeyStoreOptions = {}): Promise<KeyStore> {
    const keys = new KeyStore(store, opts);
    await keys.refresh();
    keys.#timer = setInterval(() => void keys.refresh().catch(() => {}), opts.refreshMs ?? 5000);
    keys.#timer.unref();
    return keys;
  }

  /** Keys in force now. */
  get size(): number {
    return this.#byHash.size;
  }

  /** The record of a key in force, or null. Synchronous and allocation-light: it runs on every request. */
  verify(key: string): Readonly<ApiKey> | null {
    if (typeof key !== "string" || key.length !== KEY_LENGTH || !key.startsWith(KEY_PREFIX)) return null;
    const digest = hash("sha256", key, "hex");
    const entry = this.#byHash.get(digest);
    if (!entry) return null;
    return timingSafeEqual(entry.hash, Buffer.from(digest, "hex")) ? entry.key : null;
  }

  /** Creates a key. The result is the only time the key itself is seen: it is not stored. */
  async create(spec: NewApiKey): Promise<{ key: string; record: Readonly<ApiKey> }> {
    const fields = checkSpec(spec);
    const key = KEY_PREFIX + randomBytes(32).toString("base64url");
    const keyHash = hash("sha256", key, "hex");
    let row: KeyRow;
    try {
      const r = await this.#store.query<KeyRow>(
        `INSERT INTO api_keys (name, key_hash, prefix, models, rpm, tpm, max_parallel) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
        [fields.name, keyHash, key.slice(0, 8), fields.models, fields.rpm, fields.tpm, fields.maxParallel],
      );
      row = r.rows[0]!;
    } catch (err) {
      if (sqlState(err) === "23505" && (err as { constraint?: string }).constraint === "api_keys_name_active") throw errors.keyExists(fields.name);
      throw storeError(err);
    }
    const record = toApiKey(row);
    this.#changes++;
    this.#byHash.set(keyHash, { hash: Buffer.from(keyHash, "hex"), key: record });
    return { key, record };
  }

  /** Keys in force, oldest first; with `includeRevoked`, revoked ones too. */
  async list(opts: { includeRevoked?: boolean } = {}): Promise<Readonly<ApiKey>[]> {
    try {
      const r = await this.#store.query<KeyRow>(
        `SELECT ${COLUMNS} FROM api_keys ${opts.includeRevoked ? "" : "WHERE revoked_at IS NULL"} ORDER BY created_at, id`,
      );
      return r.rows.map(toApiKey);
    } catch (err) {
      throw storeError(err);
    }
  }

  /** Revokes the key in force named `name`; here at once, in other processes at their next refresh. */
  async revoke(name: string): Promise<Readonly<ApiKey>> {
    let rows: KeyRow[];
    try {
      ({ rows } = await this.#store.query<KeyRow>(
        `UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING ${COLUMNS}`,
        [name],
      ));
    } catch (err) {
      throw storeError(err);
    }
    const row = rows[0];
    if (!row) throw errors.keyNotFound(name);
    this.#changes++;
    this.#byHash.delete(row.key_hash);
    return toApiKey(row);
  }

  /**
   * Reads the keys in force again. While the database cannot be reached, the keys last read stay
   * in force (one warning when that starts, one line when it ends).
   */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#load().finally(() => { this.#refreshing = undefined; });
    return this.#refreshing;
  }

  async #load(): Promise<void> {
    const changesBefore = this.#changes;
    let rows: KeyRow[];
    try {
      ({ rows } = await this.#store.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE revoked_at IS NULL`));
    } catch (err) {
      if (!this.#failing) this.#log("warn", `keys: cannot read the API keys (${(err as Error).message}); the ${this.#byHash.size} keys read last stay in force`);
      this.#failing = true;
      throw storeError(err);
    }
    if (this.#failing) this.#log("info", "keys: API keys read again");
    this.#failing = false;
    if (this.#changes !== changesBefore) return; // a local change raced this read; the next one sees it
    this.#byHash = new Map(rows.map((r) => [r.key_hash, { hash: Buffer.from(r.key_hash, "hex"), key: toApiKey(r) }]));
  }

  /** Stops refreshing. The store is the caller's to close. */
  close(): void {
    clearInterval(this.#timer);
  }
}

function checkSpec(spec: NewApiKey): { name: string; models: string[] | null; rpm: number | null; tpm: number | null; maxParallel: number | null } {
  if (typeof spec.name !== "string" || !NAME.test(spec.name)) {
    throw errors.invalidRequest("A key's name must be 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit.", "name");
  }
  const models = spec.models ?? null;
  if (models !== null && (!Array.isArray(models) || models.length === 0 || models.some((m) => typeof m !== "string" || m.length === 0))) {
    throw errors.invalidRequest("models must be a non-empty list of model ids; leave it out to allow every model.", "models");
  }
  const limit = (value: number | null | undefined, param: string): number | null => {
    if (value === undefined || value === null) return null;
    if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) throw errors.invalidRequest(`${param} must be a positive integer, or left out for no limit.`, param);
    return value;
  };
  return { name: spec.name, models: models && [...new Set(models)], rpm: limit(spec.rpm, "rpm"), tpm: limit(spec.tpm, "tpm"), maxParallel: limit(spec.maxParallel, "max_parallel") };
}
