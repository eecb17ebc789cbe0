import { mkdtempSync, rmSync, statfsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaContextSequence } from "node-llama-cpp";

/**
 * Copies one sequence's KV state into another, so that a prompt prefix one slot has evaluated need
 * not be evaluated again in another. node-llama-cpp 3.21.1 exposes llama.cpp's per-sequence state
 * only as save-to-file and load-from-file, so the state goes through a file in a private folder,
 * in memory (/dev/shm) where there is room: about 1 ms per 100 prompt tokens of a 170M model,
 * against about 1 ms per token to evaluate them. A copy that fails leaves the caller to evaluate.
 */
export class StateCopier {
  #dir: string | null = null;
  #next = 0;

  async copy(from: LlamaContextSequence, to: LlamaContextSequence): Promise<void> {
    const file = this.newFile();
    try {
      await from.saveStateToFile(file);
      // The risk accepted: a file from another model. It is written just above, by this context.
      await to.loadStateFromFile(file, { acceptRisk: true });
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Removes the folder (on unload). */
  dispose(): void {
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = null;
  }

  /** A path for one state file in the private folder. */
  newFile(): string {
    return join(this.#folder(), `${this.#next++}.state`);
  }

  /** Made on first use, readable by this user only (mkdtemp makes it 0700). */
  #folder(): string {
    return this.#dir ??= mkdtempSync(join(memoryBacked() ?? tmpdir(), "hearth-kv-"));
  }
}

/** /dev/shm when it has 1 GiB free (containers often give it 64 MiB, less than one long prompt's state). */
function memoryBacked(): string | null {
  try {
    const fs = statfsSync("/dev/shm");
    return fs.bavail * fs.bsize >= 1 << 30 ? "/dev/shm" : null;
  } catch {
    return null;
  }
}
