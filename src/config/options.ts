import { InvalidArgumentError } from "commander";
import type { TSchema } from "typebox";
import { ConfigSchema } from "./schema.ts";

/** A setting that can also be given as a `hearth serve` flag and a HEARTH_* environment variable. */
export interface ConfigOption {
  /** Where it sits in the config: ["batching", "max_batch_size"]. */
  path: string[];
  /** `--slots` without the dashes. */
  flag: string;
  short?: string;
  /** HEARTH_ and the flag in capitals (HEARTH_SLOTS), or a conventional name the schema gives (DATABASE_URL). */
  env: string;
  description: string;
  /** list: a repeatable flag, a comma-separated environment variable; boolean: a flag without a value. */
  kind: "integer" | "number" | "string" | "list" | "boolean";
}

interface Annotated { flag?: string; env?: string; short?: string; description?: string; type?: string; properties?: Record<string, TSchema>; anyOf?: TSchema[] }

/** Every setting whose schema names a flag, in schema order. */
export const configOptions: readonly ConfigOption[] = collect(ConfigSchema as unknown as Annotated, []);

function collect(schema: Annotated, path: string[]): ConfigOption[] {
  if (schema.flag) {
    const kinds: Record<string, ConfigOption["kind"]> = { integer: "integer", number: "number", array: "list", boolean: "boolean" };
    const kind = kinds[schema.type ?? ""] ?? "string";
    return [{
      path,
      flag: schema.flag,
      ...(schema.short ? { short: schema.short } : {}),
      // The field's own conventional name where there is one (DATABASE_URL, REDIS_URL).
      env: schema.env ?? `HEARTH_${schema.flag.toUpperCase().replaceAll("-", "_")}`,
      description: schema.description ?? "",
      kind,
    }];
  }
  return Object.entries(schema.properties ?? {}).flatMap(([key, child]) => collect(child as Annotated, [...path, key]));
}

/** A commander argument parser for an option: numbers for numeric settings, a growing list for lists; the schema checks the rest. */
export function parseOption(o: ConfigOption): (raw: string, previous?: unknown) => string | number | string[] {
  if (o.kind === "string" || o.kind === "boolean") return (raw) => raw;
  if (o.kind === "list") return (raw, previous) => [...(Array.isArray(previous) ? previous as string[] : []), raw];
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === "" || Number.isNaN(n) || (o.kind === "integer" && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`--${o.flag} must be ${o.kind === "integer" ? "an integer" : "a number"}`);
    }
    return n;
  };
}
