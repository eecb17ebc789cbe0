import { readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { RUNNER_BASE_BYTES, type EstimateOptions, type MemoryEstimate } from "./estimateMemory.ts";

/** Entries kept: the newest, for the files a server was started with lately. */
const MAX_ENTRIES = 256;
/** Changes whenever the estimate's formula does, so that a new Hearth does not trust an old figure. */
const FORMAT = `1:${RUNNER_BASE_BYTES}`;

/**
 * Memory estimates by file version and load settings, kept in the machine's cache folder: estimating
 * takes a child process (1.5 to 3 s), and a server started again on the same files (with any data
 * folder) need not wait for it before loading. A file's version is its path, size and modification
 * time. Servers sharing the file may each write it; one's entry lost to another's write costs only
 * an estimate.
 */
export class EstimateCache {
  readonly #path: string;
  readonly #entries: Map<string, MemoryEstimate>;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
    this.#entries = new Map(readEntries(path));
  }

  static key(file: string, version: string, opts: EstimateOptions): string {
    return JSON.stringify([FORMAT, file, version, opts.contextSize, opts.slots, opts.batchSize]);
  }

  get(key: string): MemoryEstimate | undefined {
    return this.#entries.get(key);
  }

  /** Remembers an estimate; written in the background (losing it costs only a new estimate). */
  set(key: string, value: MemoryEstimate): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    for (const old of this.#entries.keys()) {
      if (this.#entries.size <= MAX_ENTRIES) break;
      this.#entries.delete(old);
    }
    const text = JSON.stringify([...this.#entries]);
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(this.#path), { recursive: true });
      const partial = `${this.#path}.${process.pid}.tmp`;
      await writeFile(partial, text);
      await rename(partial, this.#path);
    }).catch(() => {});
  }

  /** Resolves once what was set is on disk (or could not be written). */
  flushed(): Promise<void> {
    return this.#writing;
  }
}

function readEntries(path: string): [string, MemoryEstimate][] {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter((e): e is [string, MemoryEstimate] => Array.isArray(e) && typeof e[0] === "string" && isEstimate(e[1]));
  } catch {
    return []; // none yet, or unreadable: estimated again
  }
}

function isEstimate(v: unknown): v is MemoryEstimate {
  const e = v as MemoryEstimate;
  return typeof e === "object" && e !== null && [e.totalBytes, e.modelBytes, e.contextBytes, e.contextSize].every((n) => Number.isSafeInteger(n) && n >= 0);
}
