import { randomUUID } from "node:crypto";
import { unlinkSync } from "node:fs";
import { link, open, readFile, rename, stat, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";

/**
 * One process at a time owns a thing on disk (an embedded database's folder, a pull's temporary
 * file): a lock file beside it says which.
 *
 * The file holds the owner's pid, host and a random token; the owner touches it every
 * `heartbeatMs`. Another process may take the lock over only if it is stale: its owner is gone
 * (same host, pid no longer running), or it has not been touched for `staleMs` (an owner on another
 * host sharing the volume, whose pid cannot be checked from here).
 */

export interface LockFileOptions {
  /** What the holder of a conflicting lock should be told to do, after the standard message. */
  hint?: string;
  /** Defaults to 10 s. */
  heartbeatMs?: number;
  /** A lock untouched for this long is stale whoever holds it. Defaults to 60 s. */
  staleMs?: number;
}

export interface LockFile {
  readonly path: string;
  release(): Promise<void>;
}

interface LockInfo {
  pid: number;
  host: string;
  token: string;
  since: string;
}

export class LockHeldError extends Error {
  readonly lockPath: string;
  constructor(lockPath: string, what: string, holder: Partial<LockInfo> | null, hint = "") {
    const who = holder?.pid ? ` by process ${holder.pid} on ${holder.host ?? "an unknown host"}${holder.since ? ` since ${holder.since}` : ""}` : "";
    super(`${what} is in use${who} (lock file ${lockPath}).${hint ? ` ${hint}` : ""} If no other process is running, delete the lock file.`);
    this.name = "LockHeldError";
    this.lockPath = lockPath;
  }
}

/** Locks held by this process: a second open of the same directory here fails too. */
const held = new Set<string>();

export async function lockFile(lockPath: string, what: string, opts: LockFileOptions = {}): Promise<LockFile> {
  const path = resolve(lockPath);
  const heartbeatMs = opts.heartbeatMs ?? 10_000;
  const staleMs = opts.staleMs ?? 60_000;
  const hint = opts.hint ?? "";
  if (held.has(path)) throw new LockHeldError(path, what, { pid: process.pid, host: hostname() }, hint);
  const mine: LockInfo = { pid: process.pid, host: hostname(), token: randomUUID(), since: new Date().toISOString() };
  held.add(path);
  try {
    await acquire(path, what, mine, staleMs, hint);
  } catch (err) {
    held.delete(path);
    throw err;
  }

  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, heartbeatMs);
  heartbeat.unref();
  // A normal exit without close() removes the lock; a crash leaves it, and the pid check frees it.
  const onExit = () => { try { unlinkSync(path); } catch {} };
  process.once("exit", onExit);

  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      process.off("exit", onExit);
      held.delete(path);
      const current = await readLock(path);
      if (current?.token === mine.token) await unlink(path).catch(() => {});
    },
  };
}

async function acquire(path: string, what: string, mine: LockInfo, staleMs: number, hint: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, "wx");
      try { await fh.writeFile(JSON.stringify(mine) + "\n"); } finally { await fh.close(); }
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = await readLock(path);
    const touched = await stat(path).then((s) => s.mtimeMs, () => null);
    if (touched === null) continue; // removed meanwhile: try again
    if (!isStale(holder, touched, staleMs)) throw new LockHeldError(path, what, holder, hint);
    await takeOverStale(path, what, holder, hint);
  }
  throw new LockHeldError(path, what, await readLock(path), hint);
}

function isStale(holder: LockInfo | null, touchedMs: number, staleMs: number): boolean {
  if (Date.now() - touchedMs > staleMs) return true;
  // Unreadable or half-written: its writer may be mid-way; only age makes it stale.
  if (!holder) return false;
  if (holder.host !== hostname()) return false;
  // Our own pid, but not held by us: left by an earlier process with the same pid (a container's pid 1).
  if (holder.pid === process.pid) return true;
  return !isRunning(holder.pid);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Moves the stale file aside rather than deleting it: a rename moves whichever file is there, so
 * if another process took the stale lock over first, we notice (the moved file is not the stale
 * one) and put theirs back instead of deleting a live lock.
 */
async function takeOverStale(path: string, what: string, stale: LockInfo | null, hint: string): Promise<void> {
  const aside = `${path}.${randomUUID()}.stale`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const moved = await readLock(aside);
  if (stale !== null && moved?.token !== stale.token) {
    await link(aside, path).catch(() => {});
    await unlink(aside).catch(() => {});
    throw new LockHeldError(path, what, moved, hint);
  }
  await unlink(aside).catch(() => {});
}

async function readLock(path: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await readFile(path, "utf8")) as Partial<LockInfo>;
    if (typeof info.pid !== "number" || typeof info.token !== "string" || typeof info.host !== "string") return null;
    return info as LockInfo;
  } catch {
    return null;
  }
}
