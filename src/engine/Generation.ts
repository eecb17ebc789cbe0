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
}

/**
 * The per-request side of decoding, apart from how tokens are produced: counts tokens, turns them
 * into text, applies stop strings and limits, and says when and why generation ends.
 */
export class Generation {
  readonly #detokenizer: IncrementalDetokenizer;
  readonly #stops: StopMatcher;
  readonly #isEndToken: (token: number) => boolean;
  readonly #maxTokens: number;
  #completionTokens = 0;
  #finishReason: FinishReason | null = null;

  constructor(opts: GenerationOptions) {
    this.#detokenizer = new IncrementalDetokenizer(opts.detokenize);
    this.#stops = new StopMatcher(opts.stop);
    this.#isEndToken = opts.isEndToken;
    this.#maxTokens = opts.maxTokens;
  }

  get completionTokens(): number { return this.#completionTokens; }
  get finishReason(): FinishReason | null { return this.#finishReason; }

  /** Takes one sampled token; returns the text it releases (maybe empty). */
  accept(token: number): string {
    if (this.#finishReason !== null) throw new Error("generation already finished");
    this.#completionTokens++;
    if (this.#isEndToken(token)) return this.#finish("stop", this.#detokenizer.flush().text);
    const { text, stopped } = this.#stops.push(this.#detokenizer.push(token).text);
    if (stopped) {
      this.#finishReason = "stop";
      return text;
    }
    if (this.#completionTokens >= this.#maxTokens) return text + this.#finish("length", this.#detokenizer.flush().text);
    return text;
  }

  /** Ends with `reason`, releasing held text unless a stop string turns up in it. */
  #finish(reason: FinishReason, tail: string): string {
    const { text, stopped } = this.#stops.push(tail);
    this.#finishReason = stopped ? "stop" : reason;
    return stopped ? text : text + this.#stops.flush();
  }
}
