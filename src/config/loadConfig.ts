import { readFile } from "node:fs/promises";
import { Value } from "typebox/value";
import { parse as parseYaml } from "yaml";
import { configOptions } from "./options.ts";
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

/** HEARTH_* environment variables, one per setting that has a flag (HEARTH_PORT=9000, HEARTH_SLOTS=8). */
export function envLayer(env: NodeJS.ProcessEnv): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const o of configOptions) {
    const raw = env[o.env];
    if (raw === undefined || raw === "") continue;
    setPath(layer, o.path, o.kind === "string" ? raw : o.kind === "list" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : o.kind === "boolean" ? coerceBoolean(raw) : coerceScalar(raw));
  }
  return layer;
}

/** Flags given to `hearth serve`, keyed as commander names them (camelCase of the flag). */
export function flagLayer(flags: Record<string, unknown>): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const o of configOptions) {
    const value = flags[o.flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())];
    if (value !== undefined) setPath(layer, o.path, value);
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

/** Anything else stays a string, which the schema then reports as not a boolean. */
function coerceBoolean(raw: string): unknown {
  const v = raw.trim().toLowerCase();
  return ["1", "true", "yes", "on"].includes(v) ? true : ["0", "false", "no", "off"].includes(v) ? false : raw;
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
