/** Turns token ids into text, given the tokens that came before (for leading-space rules). */
export type Detokenize = (tokens: readonly number[], previous: readonly number[]) => string;

const REPLACEMENT = "\uFFFD";
/** A UTF-8 character has at most 4 bytes, and a token carries at least one of them. */
const MAX_PENDING = 4;
const CONTEXT_TOKENS = 8;

/**
 * Streams text from tokens without ever splitting a character: byte tokens can carry part of a
 * UTF-8 sequence, which decodes to U+FFFD until its last byte arrives. Such tokens are held until
 * the character completes, or released as U+FFFD once no valid character can still come of them.
 */
export class IncrementalDetokenizer {
  readonly #detokenize: Detokenize;
  #pending: number[] = [];
  #previous: number[] = [];

  constructor(detokenize: Detokenize) {
    this.#detokenize = detokenize;
  }

  /** Adds one token; returns the text it completes (maybe empty) and how many tokens that text spans. */
  push(token: number): { text: string; tokens: number } {
    this.#pending.push(token);
    const text = this.#detokenize(this.#pending, this.#previous);
    if (text.endsWith(REPLACEMENT) && this.#pending.length < MAX_PENDING) return { text: "", tokens: 0 };
    return this.#release(text);
  }

  /** Releases whatever is held, at the end of generation. */
  flush(): { text: string; tokens: number } {
    if (this.#pending.length === 0) return { text: "", tokens: 0 };
    return this.#release(this.#detokenize(this.#pending, this.#previous));
  }

  #release(text: string): { text: string; tokens: number } {
    const tokens = this.#pending.length;
    this.#previous = [...this.#previous, ...this.#pending].slice(-CONTEXT_TOKENS);
    this.#pending = [];
    return { text, tokens };
  }
}
