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

  /**
   * Releases whatever is held, at the end of generation. `midCharacter`: the held bytes end inside
   * a character (generation was cut there), whose U+FFFD is dropped: the text never shows a
   * character that was not generated whole. Without it the held text is released as it decodes
   * (it may be a U+FFFD the model did generate).
   */
  flush(midCharacter = false): { text: string; tokens: number } {
    if (this.#pending.length === 0) return { text: "", tokens: 0 };
    const text = this.#detokenize(this.#pending, this.#previous);
    // An unfinished but well-formed sequence decodes to exactly one U+FFFD, at the end.
    return this.#release(midCharacter && text.endsWith(REPLACEMENT) ? text.slice(0, -1) : text);
  }

  #release(text: string): { text: string; tokens: number } {
    const tokens = this.#pending.length;
    this.#previous = [...this.#previous, ...this.#pending].slice(-CONTEXT_TOKENS);
    this.#pending = [];
    return { text, tokens };
  }
}
