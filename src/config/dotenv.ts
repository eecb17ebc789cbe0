import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { ConfigError } from "./loadConfig.ts";

/**
 * Reads a `.env` file (KEY=value lines, as Node's own --env-file reads them) into `env`, without
 * overriding a variable that is already set: the real environment wins. A missing file is no error.
 * Returns the names it set.
 */
export function loadDotEnv(path = resolve(".env"), env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new ConfigError(`cannot read ${path}: ${code ?? String(err)}`);
  }
  const set: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
