import llama3Tokenizer from "llama3-tokenizer-js";

/** llama.cpp token types (llama_token_type in llama.h). */
const TokenType = { NORMAL: 1, CONTROL: 3 } as const;

export interface Vocab {
  /** GGUF `tokenizer.ggml.pre`: selects llama.cpp's Llama 3 pre-tokenizer regex. */
  pre: "llama-bpe";
  tokens: string[];
  types: number[];
  merges: string[];
  bosId: number;
  /** `<|eot_id|>`: Llama 3 Instruct GGUFs use it as EOS so chat turns end there. */
  eosId: number;
}

/**
 * The Llama 3 special tokens in their real order (ids 128000..128255 in the real vocabulary),
 * taken from the tokenizer package rather than retyped.
 */
function llama3SpecialTokens(): string[] {
  return llama3Tokenizer.vocabById.slice(128000);
}

/**
 * GPT-2's reversible byte-to-unicode table: byte-level BPE vocabularies (Llama 3's included) store
 * each byte as one printable code point, and llama.cpp decodes tokens through the same table.
 */
function byteToUnicode(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : 256 + extra++));
  return out;
}

function withSpecials(regular: string[]): Vocab {
  const specials = llama3SpecialTokens();
  const tokens = [...regular, ...specials];
  const types = tokens.map((_, i) => (i < regular.length ? TokenType.NORMAL : TokenType.CONTROL));
  const id = (t: string) => {
    const i = tokens.indexOf(t, regular.length);
    if (i < 0) throw new Error(`special token ${t} missing`);
    return i;
  };
  return { pre: "llama-bpe", tokens, types, merges: [], bosId: id("<|begin_of_text|>"), eosId: id("<|eot_id|>") };
}

/** 256 byte tokens plus the 256 Llama 3 special tokens: every text tokenizes, one token per byte. */
export function byteVocab(): Vocab {
  return withSpecials(byteToUnicode());
}

/** The real Llama 3 vocabulary (128,256 tokens) and its 280,147 merges, in their original order. */
export function llama3Vocab(): Vocab {
  const vocab = withSpecials(llama3Tokenizer.vocabById.slice(0, 128000));
  // Map iteration follows insertion order, which is the merge priority order of the original file.
  vocab.merges = [...llama3Tokenizer.merges.keys()];
  return vocab;
}

/** Meta-Llama-3-8B-Instruct's `tokenizer_config.json` chat template, verbatim. */
export const LLAMA3_INSTRUCT_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}" +
  "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}" +
  "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
