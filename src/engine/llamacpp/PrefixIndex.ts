import { sharedPrefix } from "../../scheduler/chooseSlot.ts";

/**
 * Token sequences by key, found by the prompts they start: the longest shared start without reading
 * every sequence. Each sequence is indexed under a hash of each of its block-aligned starts (the
 * first `block` tokens, the first 2 x `block`, ...), as vLLM's prefix cache indexes KV blocks, and
 * under a hash of all of it. A lookup hashes the prompt's starts, goes to the deepest one some
 * sequence shares, and compares only those sequences, only past that depth. Hashes only narrow the
 * search: every answer is checked token by token.
 */
export class PrefixIndex {
  readonly #block: number;
  readonly #tokens = new Map<string, readonly number[]>();
  /** A block-aligned start's hash -> the sequences starting with it. */
  readonly #byStart = new Map<number, Set<string>>();
  /** A whole sequence's hash -> the sequences it is. */
  readonly #byWhole = new Map<number, Set<string>>();

  /** `block`: the shortest shared start worth finding; shorter ones may be missed. */
  constructor(block: number) {
    this.#block = Math.max(1, Math.floor(block));
  }

  get size(): number { return this.#tokens.size; }

  add(key: string, tokens: readonly number[]): void {
    this.delete(key);
    this.#tokens.set(key, tokens);
    this.#index(key, tokens, (map, hash) => {
      let keys = map.get(hash);
      if (!keys) map.set(hash, (keys = new Set()));
      keys.add(key);
    });
  }

  delete(key: string): void {
    const tokens = this.#tokens.get(key);
    if (!tokens) return;
    this.#tokens.delete(key);
    this.#index(key, tokens, (map, hash) => {
      const keys = map.get(hash);
      keys?.delete(key);
      if (keys?.size === 0) map.delete(hash);
    });
  }

  /** The sequence sharing the longest start with `prompt` (at least `block` tokens), or null. */
  longest(prompt: readonly number[]): { key: string; shared: number } | null {
    const block = this.#block;
    let deepest: Set<string> | undefined;
    let depth = 0;
    forEachStart(prompt, (length, hash) => {
      if (length % block !== 0) return;
      const keys = this.#byStart.get(hash);
      if (keys) [deepest, depth] = [keys, length];
    });
    let best: { key: string; shared: number } | null = null;
    for (const key of deepest ?? []) {
      // The hash says they share `depth` tokens, and none shares another block: compare past it only.
      const shared = sharedFrom(this.#tokens.get(key)!, prompt, depth);
      if (shared > (best?.shared ?? 0)) best = { key, shared };
    }
    // Checked in full once: a hash collision is then a miss, never a wrong state.
    return best && sharedPrefix(this.#tokens.get(best.key)!, prompt, depth) === depth ? best : null;
  }

  /** The sequences that `tokens` starts with (itself included). */
  startsOf(tokens: readonly number[]): string[] {
    const found: string[] = [];
    forEachStart(tokens, (length, hash) => {
      for (const key of this.#byWhole.get(hash) ?? []) {
        const t = this.#tokens.get(key)!;
        if (t.length === length && sharedPrefix(t, tokens) === length) found.push(key);
      }
    });
    return found;
  }

  #index(key: string, tokens: readonly number[], at: (map: Map<number, Set<string>>, hash: number) => void): void {
    forEachStart(tokens, (length, hash) => {
      if (length % this.#block === 0) at(this.#byStart, hash);
      if (length === tokens.length) at(this.#byWhole, hash);
    });
  }
}

/** Calls `visit` with the hash of every start of `tokens` (lengths 1 to all), in order. */
function forEachStart(tokens: readonly number[], visit: (length: number, hash: number) => void): void {
  // Two 32-bit lanes (FNV-1a and a multiply-rotate), folded into a 53-bit number: a Map key without strings.
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    a = Math.imul(a ^ t, 0x01000193);
    b = Math.imul((b ^ t) + 0x9e3779b9, 0x85ebca6b);
    b ^= b >>> 13;
    visit(i + 1, (a >>> 0) * 0x200000 + (b >>> 11));
  }
}

/** How many tokens `a` and `b` share from the start, knowing they share the first `from`. */
function sharedFrom(a: readonly number[], b: readonly number[], from: number): number {
  const n = Math.min(a.length, b.length);
  let i = from;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
