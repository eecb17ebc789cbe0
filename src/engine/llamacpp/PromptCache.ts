import { rm } from "node:fs/promises";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { PrefixIndex } from "./PrefixIndex.ts";

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
 * whichever slot it lands, instead of evaluated again. Bounded by bytes and by entries, least
 * recently used out, and indexed by the prompts' starts: a soak of varied prompts once left tens of
 * thousands of entries that every admission scanned.
 */
export class PromptCache {
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #minShared: number;
  readonly #index: PrefixIndex;
  readonly #newFile: () => string;
  /** In use order: least recently used first. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #next = 0;
  readonly #stats = { saves: 0, hits: 0, hitTokens: 0, evictions: 0 };

  /** `minShared`: the shortest start worth restoring; an entry shorter than it is not kept. */
  constructor(opts: { maxBytes: number; maxEntries: number; minShared: number; newFile: () => string }) {
    this.#maxBytes = opts.maxBytes;
    this.#maxEntries = opts.maxEntries;
    this.#minShared = Math.max(1, opts.minShared);
    // At most 64: a lookup compares the entries at the deepest shared block up to a block further.
    this.#index = new PrefixIndex(Math.min(this.#minShared, 64));
    this.#newFile = opts.newFile;
  }

  get stats(): PromptCacheStats {
    return { entries: this.#entries.size, bytes: this.#bytes, ...this.#stats };
  }

  /** The entry sharing the longest start with `prompt`, when that is at least `minShared` tokens. */
  match(prompt: readonly number[]): { key: string; shared: number } | null {
    const found = this.#index.longest(prompt);
    return found && found.shared >= this.#minShared ? found : null;
  }

  /**
   * Saves what `seq` holds. An entry whose tokens start the new ones (an earlier turn of the same
   * conversation) is dropped; nothing is saved when an entry already holds all of them.
   */
  async save(seq: LlamaContextSequence): Promise<void> {
    const tokens = seq.contextTokens;
    if (tokens.length === 0 || this.#maxBytes <= 0 || this.#maxEntries <= 0) return;
    if (tokens.length < this.#minShared || this.#index.longest(tokens)?.shared === tokens.length) return;
    for (const key of this.#index.startsOf(tokens)) await this.#drop(this.#entries.get(key)!);
    const file = this.#newFile();
    const { fileSize } = await seq.saveStateToFile(file);
    if (fileSize > this.#maxBytes) {
      await rm(file, { force: true });
      return;
    }
    const entry: Entry = { key: String(this.#next++), file, tokens, bytes: fileSize };
    this.#entries.set(entry.key, entry);
    this.#index.add(entry.key, tokens);
    this.#bytes += fileSize;
    this.#stats.saves++;
    for (const old of this.#entries.values()) {
      if (this.#bytes <= this.#maxBytes && this.#entries.size <= this.#maxEntries) break;
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
    this.#index.delete(e.key);
    this.#bytes -= e.bytes;
    await rm(e.file, { force: true });
  }
}
