/** A GGUF vocabulary as node-llama-cpp reads it (`tokenizer.ggml`). */
export interface GgmlVocabulary { model?: unknown; tokens?: unknown; token_type?: unknown }

/** GGUF token types (llama.cpp's llama_token_type): only these two can carry part of a character. */
const NORMAL = 1;
const BYTE = 6;

/**
 * Each token's bytes as llama.cpp writes them into generated text, where they may be less than
 * whole characters; null for a token whose piece is text (whole UTF-8 characters, or nothing).
 * node-llama-cpp hands pieces over only as JavaScript strings, which turn such bytes into U+FFFD,
 * so they are read from the vocabulary by llama.cpp's own rules (llama_vocab::token_to_piece):
 * a byte-level BPE vocabulary (`gpt2`) writes every byte of a normal token as one character of
 * GPT-2's alphabet; other vocabularies (SentencePiece and the like) have byte tokens named
 * `<0xNN>`, and their other pieces are UTF-8 text. Null for every token of a vocabulary with
 * neither (nothing is known to split characters there).
 * The returned array is reused by the next call.
 */
export function pieceBytes(ggml: GgmlVocabulary | undefined): (token: number) => Uint8Array | null {
  const tokens = Array.isArray(ggml?.tokens) ? ggml.tokens as unknown[] : [];
  const types = Array.isArray(ggml?.token_type) ? ggml.token_type as unknown[] : null;
  let buffer = new Uint8Array(64);
  if (ggml?.model === "gpt2") {
    return (t) => {
      const piece = tokens[t];
      if (typeof piece !== "string" || (types && types[t] !== NORMAL)) return null;
      if (buffer.length < piece.length) buffer = new Uint8Array(piece.length * 2);
      let n = 0;
      for (let i = 0; i < piece.length; i++) {
        const b = GPT2_BYTE[piece.charCodeAt(i)];
        // Outside the alphabet llama.cpp writes the piece out as text (llama_decode_text).
        if (b === undefined || b < 0) return null;
        buffer[n++] = b;
      }
      return buffer.subarray(0, n);
    };
  }
  return (t) => {
    const piece = tokens[t];
    if (typeof piece !== "string" || (types && types[t] !== BYTE)) return null;
    const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (!hex) return null;
    buffer[0] = parseInt(hex[1]!, 16);
    return buffer.subarray(0, 1);
  };
}

/**
 * GPT-2's byte-level alphabet, reversed: GPT2_BYTE[char code] is the byte that character stands
 * for, -1 for characters outside it. Printable Latin-1 bytes stand for themselves; the other 68
 * bytes are written as U+0100 onwards, in byte order.
 */
const GPT2_BYTE = (() => {
  const table = new Int16Array(256 + 68).fill(-1);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) table[printable(b) ? b : 256 + n++] = b;
  return table;
})();
