import type { LlamaModel, Token } from "node-llama-cpp";
import type { GeneratedTokenLogprob, TokenLogprob } from "../types.ts";
import { pieceBytes, type GgmlVocabulary } from "./pieceBytes.ts";

/** OpenAI reports a logprob of -9999 for tokens too unlikely to have a finite one. */
const FLOOR = -9999;

/**
 * Each token's text and UTF-8 bytes, for logprobs. A byte token (part of a character) renders as
 * U+FFFD on its own: its bytes come from the vocabulary (see pieceBytes). Cached: a vocabulary is
 * bounded.
 */
export class TokenPieces {
  readonly #model: LlamaModel;
  readonly #rawBytes: (t: number) => Uint8Array | null;
  readonly #cache = new Map<number, { token: string; bytes: number[] }>();

  constructor(model: LlamaModel) {
    this.#model = model;
    this.#rawBytes = pieceBytes(model.fileInfo.metadata.tokenizer?.ggml as GgmlVocabulary | undefined);
  }

  piece(t: number): { token: string; bytes: number[] } {
    let p = this.#cache.get(t);
    if (!p) {
      const token = this.#model.detokenize([t as Token], true);
      const raw = token.includes("\uFFFD") ? this.#rawBytes(t) : null;
      p = { token, bytes: raw ? [...raw] : [...Buffer.from(token, "utf8")] };
      this.#cache.set(t, p);
    }
    return p;
  }

  /** The chosen token and the `top` most likely ones, from node-llama-cpp's sorted probabilities. */
  logprobs(token: number, probabilities: ReadonlyMap<number, number>, top: number): GeneratedTokenLogprob {
    const entry = (t: number, p: number): TokenLogprob => ({ ...this.piece(t), logprob: p > 0 ? Math.max(FLOOR, Math.log(p)) : FLOOR });
    const list: TokenLogprob[] = [];
    if (top > 0) {
      for (const [t, p] of probabilities) {
        list.push(entry(t, p));
        if (list.length >= top) break;
      }
    }
    return { ...entry(token, probabilities.get(token) ?? 0), top: list };
  }
}
