import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Hearth's own files (pulled models, ...): $HEARTH_DATA_DIR, else ~/.hearth. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.HEARTH_DATA_DIR || join(homedir(), ".hearth"));
}

export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), "models");
}
