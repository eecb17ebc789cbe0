import { readFile } from "node:fs/promises";
import { Value } from "typebox/value";
import { parse as parseYaml } from "yaml";
import { ConfigSchema, type Config } from "./schema.ts";

export class ConfigError extends Error {
  readonly code = "HEARTH_ERR_CONFIG";
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A partial config: what a file, the environment or the command line says. */
export type ConfigLayer = { [key: string]: unknown };

/** Environment variables that override the file: HEARTH_PORT=9000, HEARTH_MODEL_PATH=..., etc. */
const ENV_KEYS: Record<string, string[]> = {
  HEARTH_HOST: ["host"],
  HEARTH_PORT: ["port"],
  HEARTH_LOG_LEVEL: ["log_level"],
  HEARTH_MODEL_PATH: ["model", "path"],
  HEARTH_MODEL_NAME: ["model", "name"],
  HEARTH_THREADS: ["model", "threads"],
  HEARTH_GPU: ["model", "gpu"],
  HEARTH_CTX_SIZE: ["inference", "context_length"],
  HEARTH_SLOTS: ["batching", "max_batch_size"],
  HEARTH_MAX_QUEUE: ["batching", "max_queue"],
  HEARTH_TIMEOUT_MS: ["batching", "timeout_ms"],
};

export async function readConfigFile(path: string): Promise<ConfigLayer> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed == null) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must hold a mapping of settings`);
  return parsed as ConfigLayer;
}

export function envLayer(env: NodeJS.ProcessEnv): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const [name, path] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw !== undefined && raw !== "") setPath(layer, path, coerceScalar(raw));
  }
  return layer;
}

/**
 * Merges layers (later wins), fills defaults, validates once and freezes. Throws a ConfigError
 * naming the first bad setting by its dotted path.
 */
export function resolveConfig(...layers: ConfigLayer[]): Readonly<Config> {
  const merged = layers.reduce<ConfigLayer>((acc, layer) => deepMerge(acc, layer), {});
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(merged));
  const first = Value.Errors(ConfigSchema, withDefaults)[0];
  if (first) {
    const extra = (first.params as { additionalProperties?: string[] }).additionalProperties;
    const path = [first.instancePath.slice(1).replaceAll("/", "."), extra?.[0]].filter(Boolean).join(".");
    throw new ConfigError(extra ? `unknown setting '${path}'` : `setting '${path || "(root)"}' ${first.message}`);
  }
  return deepFreeze(withDefaults as Config);
}

export function setPath(target: ConfigLayer, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as ConfigLayer;
  }
  node[path.at(-1)!] = value;
}

function coerceScalar(raw: string): unknown {
  return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
}

function deepMerge(a: ConfigLayer, b: ConfigLayer): ConfigLayer {
  const out: ConfigLayer = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is ConfigLayer {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
