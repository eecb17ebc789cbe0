import { ACCEPT, REJECT, UTF8_STATES, utf8Run } from "../utf8Automaton.ts";

/**
 * Which tokens keep generated text valid UTF-8, from every state of the UTF-8 automaton: built once
 * per vocabulary (at model load) from each token's bytes, so that a request only follows its state
 * and switches between precomputed ban lists. Inside a character only the tokens that go on with
 * its next bytes may come: no text and no special token (an end token there would cut it).
 */
export class Utf8Vocabulary {
  readonly size: number;
  /** #next[state * size + token]: the state after the token, REJECT where it may not come. */
  readonly #next: Uint8Array;
  /** Per state, the tokens that may not come and those that may (ascending), made on first use. */
  readonly #banned: (Uint32Array | undefined)[] = [];
  readonly #permitted: (Uint32Array | undefined)[] = [];
  /** Some token ends inside a character or must be banned: without one there is nothing to guard. */
  readonly active: boolean;

  /**
   * `bytesOf(t)`: the token's bytes where they may be less than whole characters, null where its
   * piece is text (whole characters, or nothing); see pieceBytes.
   */
  constructor(size: number, bytesOf: (token: number) => ArrayLike<number> | null) {
    this.size = size;
    const next = new Uint8Array(UTF8_STATES * size).fill(REJECT);
    // Per state, a bit for each state some token takes it to.
    const reach = new Uint16Array(UTF8_STATES);
    for (let t = 0; t < size; t++) {
      const bytes = bytesOf(t);
      if (bytes === null || bytes.length === 0) {
        next[t] = ACCEPT;
        reach[ACCEPT]! |= 1 << ACCEPT;
        continue;
      }
      // A token that starts with a lead or ASCII byte can only come between characters; one that
      // starts with a continuation byte only inside one (then from up to seven states).
      for (let s = (bytes[0]! & 0xc0) === 0x80 ? 1 : 0, last = s === 0 ? 0 : UTF8_STATES - 1; s <= last; s++) {
        const n = utf8Run(s, bytes);
        next[s * size + t] = n;
        if (n !== REJECT) reach[s]! |= 1 << n;
      }
    }
    this.#next = next;
    this.#banDeadEnds(reach);
    this.active = next.subarray(0, size).some((n) => n !== ACCEPT);
  }

  /** The state after `token`. A token that could not come (sampled despite its ban) starts afresh. */
  next(state: number, token: number): number {
    if (token >= this.size) return ACCEPT; // not a token of this vocabulary
    const n = this.#next[state * this.size + token]!;
    if (n !== REJECT) return n;
    const fresh = this.#next[token]!;
    return fresh === REJECT ? ACCEPT : fresh;
  }

  /** Whether `token` may come in `state`; a token the vocabulary does not list is not known to split anything. */
  allowed(state: number, token: number): boolean {
    return token >= this.size || this.#next[state * this.size + token] !== REJECT;
  }

  /** The tokens that may not come in `state`, ascending. */
  banned(state: number): Uint32Array {
    return this.#banned[state] ??= this.#tokens(state, false);
  }

  /** The tokens that may come in `state`, ascending: a few hundred inside a character. */
  permitted(state: number): Uint32Array {
    return this.#permitted[state] ??= this.#tokens(state, true);
  }

  #tokens(state: number, allowed: boolean): Uint32Array {
    const row = this.#next.subarray(state * this.size, (state + 1) * this.size);
    let n = 0;
    for (let t = 0; t < this.size; t++) if ((row[t] !== REJECT) === allowed) n++;
    const list = new Uint32Array(n);
    n = 0;
    for (let t = 0; t < this.size; t++) if ((row[t] !== REJECT) === allowed) list[n++] = t;
    return list;
  }

  /**
   * Bans tokens that lead into a state no token can leave (a vocabulary without some continuation
   * byte): a state is live when some token takes it to a live one, ACCEPT being live.
   */
  #banDeadEnds(reach: Uint16Array): void {
    let live = 1 << ACCEPT;
    for (let changed = true; changed;) {
      changed = false;
      for (let s = 0; s < UTF8_STATES; s++) {
        if (!(live & (1 << s)) && reach[s]! & live) {
          live |= 1 << s;
          changed = true;
        }
      }
    }
    if (live === (1 << UTF8_STATES) - 1) return;
    for (let i = 0; i < this.#next.length; i++) {
      const n = this.#next[i]!;
      if (n !== REJECT && !(live & (1 << n))) this.#next[i] = REJECT;
    }
  }
}
