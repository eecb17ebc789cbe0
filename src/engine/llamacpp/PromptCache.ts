import { rm } from "node:fs/promises";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { sharedPrefix } from "../../scheduler/chooseSlot.ts";

interface Entry {
  key: string;
  file: string;
  tokens: readonly Token[];
  bytes: number;
}

export interface PromptCacheStats { entries: number; bytes: number; saves: number; hits: number; hitTokens: number; evictions: number }

/**
 * Prompt states kept outside the slots, like llama-server's `--cache-ram` but for every slot: when a
 * slot is about to be given to another prompt, what it holds (a conversation so far) is saved here,
 * and a later prompt that continues it (the conversation's next turn) is restored from it in
 * whichever slot it lands, instead of evaluated again. Bounded by bytes, least recently used out.
 */
export class PromptCache {
  readonly #maxBytes: number;
  readonly #newFile: () => string;
  /** In use order: least recently used first. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #next = 0;
  readonly #stats = { saves: 0, hits: 0, hitTokens: 0, evictions: 0 };

  constructor(maxBytes: number, newFile: () => string) {
    this.#maxBytes = maxBytes;
    this.#newFile = newFile;
  }

  get stats(): PromptCacheStats {
    return { entries: this.#entries.size, bytes: this.#bytes, ...this.#stats };
  }

  /** The entry sharing the longest start with `prompt`. */
  match(prompt: readonly number[]): { key: string; shared: number } | null {
    let best: { key: string; shared: number } | null = null;
    for (const e of this.#entries.values()) {
      const shared = sharedPrefix(e.tokens, prompt);
      if (shared > (best?.shared ?? 0)) best = { key: e.key, shared };
    }
    return best;
  }

  /**
   * Saves what `seq` holds. An entry whose tokens start the new ones (an earlier turn of the same
   * conversation) is dropped; nothing is saved when an entry already holds all of them.
   */
  async save(seq: LlamaContextSequence): Promise<void> {
    const tokens = seq.contextTokens;
    if (tokens.length === 0 || this.#maxBytes <= 0) return;
    for (const e of [...this.#entries.values()]) {
      const shared = sharedPrefix(e.tokens, tokens);
      if (shared === tokens.length) return;
      if (shared === e.tokens.length) await this.#drop(e);
    }
    const file = this.#newFile();
    const { fileSize } = await seq.saveStateToFile(file);
    if (fileSize > this.#maxBytes) {
      await rm(file, { force: true });
      return;
    }
    const entry: Entry = { key: String(this.#next++), file, tokens, bytes: fileSize };
    this.#entries.set(entry.key, entry);
    this.#bytes += fileSize;
    this.#stats.saves++;
    for (const old of this.#entries.values()) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#stats.evictions++;
      await this.#drop(old);
    }
  }

  /** Loads an entry into `seq`; returns the tokens it now holds (none if the entry is gone). */
  async restore(key: string, seq: LlamaContextSequence): Promise<readonly Token[]> {
    const e = this.#entries.get(key);
    if (!e) return [];
    await seq.loadStateFromFile(e.file, { acceptRisk: true });
    this.#entries.delete(key); // most recently used: to the end
    this.#entries.set(key, e);
    this.#stats.hits++;
    return seq.contextTokens;
  }

  /** Records the prompt tokens a restore brought. */
  counted(tokens: number): void {
    this.#stats.hitTokens += tokens;
  }

  async clear(): Promise<void> {
    for (const e of [...this.#entries.values()]) await this.#drop(e);
  }

  async #drop(e: Entry): Promise<void> {
    this.#entries.delete(e.key);
    this.#bytes -= e.bytes;
    await rm(e.file, { force: true });
  }
}
