import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Hearth's own files (pulled models, ...): $HEARTH_DATA_DIR, else ~/.hearth. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.HEARTH_DATA_DIR || join(homedir(), ".hearth"));
}

export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), "models");
}

/** Files Hearth can make again (the demo model, the database template): $HEARTH_CACHE_DIR, else $XDG_CACHE_HOME/hearth or ~/.cache/hearth. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HEARTH_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "hearth");
}
