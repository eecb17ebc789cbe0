import type { LlamaModel, Token } from "node-llama-cpp";
import type { GeneratedTokenLogprob, TokenLogprob } from "../types.ts";

/** OpenAI reports a logprob of -9999 for tokens too unlikely to have a finite one. */
const FLOOR = -9999;

/**
 * Each token's text and UTF-8 bytes, for logprobs. A byte token (part of a character) renders as
 * U+FFFD on its own: its bytes come from the vocabulary (GPT-2 byte-level pieces, or SentencePiece
 * `<0xNN>` pieces). Cached: a vocabulary is bounded.
 */
export class TokenPieces {
  readonly #model: LlamaModel;
  readonly #vocab: readonly string[] | null;
  readonly #byteLevel: boolean;
  readonly #cache = new Map<number, { token: string; bytes: number[] }>();

  constructor(model: LlamaModel) {
    this.#model = model;
    const ggml = model.fileInfo.metadata.tokenizer?.ggml as { tokens?: unknown; model?: unknown } | undefined;
    this.#vocab = Array.isArray(ggml?.tokens) ? ggml.tokens as string[] : null;
    this.#byteLevel = ggml?.model === "gpt2";
  }

  piece(t: number): { token: string; bytes: number[] } {
    let p = this.#cache.get(t);
    if (!p) {
      const token = this.#model.detokenize([t as Token], true);
      p = { token, bytes: token.includes("\uFFFD") ? this.#rawBytes(t) ?? [...Buffer.from(token, "utf8")] : [...Buffer.from(token, "utf8")] };
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

  #rawBytes(t: number): number[] | null {
    const piece = this.#vocab?.[t];
    if (typeof piece !== "string") return null;
    const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (hex) return [parseInt(hex[1]!, 16)];
    if (!this.#byteLevel) return null;
    const bytes: number[] = [];
    for (const ch of piece) {
      const b = UNICODE_TO_BYTE.get(ch);
      if (b === undefined) return null;
      bytes.push(b);
    }
    return bytes;
  }
}

/** GPT-2's byte-level BPE alphabet, reversed: the character each byte is written as, to the byte. */
const UNICODE_TO_BYTE = (() => {
  const map = new Map<string, number>();
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (printable(b)) map.set(String.fromCodePoint(b), b);
    else map.set(String.fromCodePoint(256 + n++), b);
  }
  return map;
})();
