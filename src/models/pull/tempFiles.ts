import { lstat, readFile, rm, statfs, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "../../errors.ts";
import { lockFile, LockHeldError } from "../../util/lockFile.ts";

/**
 * The files a pull keeps next to the models while it runs. All are dotfiles not ending in `.gguf`,
 * so the registry's scanner never takes one for a model:
 *   .NAME.partial       the bytes received so far
 *   .NAME.partial.json  what they were received from, so that a resume never splices two sources
 *   .NAME.lock          the pid of the process pulling NAME
 */
export function tempPaths(dir: string, name: string) {
  return { partial: join(dir, `.${name}.partial`), meta: join(dir, `.${name}.partial.json`), lock: join(dir, `.${name}.lock`) };
}

export interface PartialMeta {
  identity: string;
  version: string | null;
  sha256: string | null;
  totalBytes: number | null;
}

export async function readMeta(path: string): Promise<PartialMeta | null> {
  try {
    const meta = JSON.parse(await readFile(path, "utf8")) as Partial<PartialMeta>;
    return typeof meta.identity === "string" ? { identity: meta.identity, version: meta.version ?? null, sha256: meta.sha256 ?? null, totalBytes: meta.totalBytes ?? null } : null;
  } catch {
    return null;
  }
}

export async function writeMeta(path: string, meta: PartialMeta): Promise<void> {
  await writeFile(path, JSON.stringify(meta));
}

/** The size of a regular file; anything else at the path (a link someone planted) is removed. */
export async function regularFileSize(path: string): Promise<number | null> {
  try {
    const s = await lstat(path);
    if (s.isFile()) return s.size;
    await rm(path, { recursive: true, force: true });
    return null;
  } catch {
    return null;
  }
}

export async function removeQuietly(...paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => unlink(p).catch(() => {})));
}

export async function freeBytes(dir: string): Promise<number | null> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/**
 * One pull per name at a time, across processes (a CLI pull and the server's route share the
 * folder): two writers on one partial file would interleave their bytes. A lock left by a process
 * that died is taken over.
 */
export async function acquireLock(path: string, name: string): Promise<() => Promise<void>> {
  try {
    const lock = await lockFile(path, `A pull of '${name}'`);
    return () => lock.release();
  } catch (err) {
    if (err instanceof LockHeldError) throw errors.pullInProgress(name);
    throw err;
  }
}
