import type { FinishReason as AnyFinishReason } from "./types.ts";
import { IncrementalDetokenizer, type Detokenize } from "./IncrementalDetokenizer.ts";
import { StopMatcher } from "./StopMatcher.ts";

/** How a generation ends by itself; the engine adds cancelled, timeout and error. */
type FinishReason = Extract<AnyFinishReason, "stop" | "length">;

export interface GenerationOptions {
  detokenize: Detokenize;
  /** End-of-generation tokens (EOS, EOT, the chat template's end-of-turn). */
  isEndToken: (token: number) => boolean;
  stop: readonly string[];
  /** Tokens this generation may still produce: the request's limit or the room left in the context. */
  maxTokens: number;
  /**
   * Whether the bytes generated so far end inside a character. A cut (max_tokens, the context's
   * room) there drops that unfinished character instead of releasing it as U+FFFD. Defaults to
   * never: held text is then released as it decodes.
   */
  midCharacter?: () => boolean;
}

/**
 * The per-request side of decoding, apart from how tokens are produced: counts tokens, turns them
 * into text, applies stop strings and limits, and says when and why generation ends.
 */
export class Generation<Meta = never> {
  readonly #detokenizer: IncrementalDetokenizer;
  readonly #stops: StopMatcher;
  readonly #isEndToken: (token: number) => boolean;
  readonly #maxTokens: number;
  readonly #midCharacter: () => boolean;
  #completionTokens = 0;
  #finishReason: FinishReason | null = null;
  /** Metadata of tokens the detokenizer still holds. */
  #heldMeta: Meta[] = [];
  /** Metadata of tokens whose text ends at `end` characters into the stream before stop strings. */
  readonly #pendingMeta: { end: number; meta: Meta[] }[] = [];
  #streamChars = 0;
  #releasedChars = 0;
  #releasedMeta: Meta[] = [];

  constructor(opts: GenerationOptions) {
    this.#detokenizer = new IncrementalDetokenizer(opts.detokenize);
    this.#stops = new StopMatcher(opts.stop);
    this.#isEndToken = opts.isEndToken;
    this.#maxTokens = opts.maxTokens;
    this.#midCharacter = opts.midCharacter ?? (() => false);
  }

  get completionTokens(): number { return this.#completionTokens; }
  get finishReason(): FinishReason | null { return this.#finishReason; }
  /** The stop string that ended the generation, when one did. */
  get stopSequence(): string | undefined { return this.#stops.matched ?? undefined; }

  /**
   * Takes one sampled token, with optional metadata (its log probabilities); returns the text it
   * releases (maybe empty). The metadata of the tokens whose text is now wholly released is then
   * in `takeReleased()`; end tokens' and stop strings' tokens never are.
   */
  accept(token: number, meta?: Meta): string {
    if (this.#finishReason !== null) throw new Error("generation already finished");
    this.#completionTokens++;
    if (this.#isEndToken(token)) return this.#released(this.#finish("stop", this.#detokenized(this.#detokenizer.flush(this.#midCharacter()))));
    if (meta !== undefined) this.#heldMeta.push(meta);
    const { text, stopped } = this.#stops.push(this.#detokenized(this.#detokenizer.push(token)));
    if (stopped) {
      this.#finishReason = "stop";
      return this.#released(text);
    }
    if (this.#completionTokens >= this.#maxTokens) return this.#released(text + this.#finish("length", this.#detokenized(this.#detokenizer.flush(this.#midCharacter()))));
    return this.#released(text);
  }

  /** The metadata of the tokens released since the last call, in order. */
  takeReleased(): Meta[] {
    const out = this.#releasedMeta;
    this.#releasedMeta = [];
    return out;
  }

  /** Notes where the tokens the detokenizer just released end in the text stream. */
  #detokenized(r: { text: string; tokens: number }): string {
    this.#streamChars += r.text.length;
    if (r.tokens > 0 && this.#heldMeta.length > 0) {
      this.#pendingMeta.push({ end: this.#streamChars, meta: this.#heldMeta });
      this.#heldMeta = [];
    }
    return r.text;
  }

  /** Counts text as released; tokens whose text is all out move to the released list. */
  #released(text: string): string {
    this.#releasedChars += text.length;
    while (this.#pendingMeta.length > 0 && this.#pendingMeta[0]!.end <= this.#releasedChars) this.#releasedMeta.push(...this.#pendingMeta.shift()!.meta);
    return text;
  }

  /** Ends with `reason`, releasing held text unless a stop string turns up in it. */
  #finish(reason: FinishReason, tail: string): string {
    const { text, stopped } = this.#stops.push(tail);
    this.#finishReason = stopped ? "stop" : reason;
    return stopped ? text : text + this.#stops.flush();
  }
}
