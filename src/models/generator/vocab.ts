import llama3Tokenizer from "llama3-tokenizer-js";

/** llama.cpp token types (llama_token_type in llama.h). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, BYTE: 6 } as const;

/** A GGUF file's tokenizer: what `tokenizer.ggml.*` and `tokenizer.chat_template` hold. */
export interface Vocab {
  /** `tokenizer.ggml.model`: byte-level BPE (`gpt2`) or SentencePiece (`llama`). */
  model: "gpt2" | "llama";
  /** `tokenizer.ggml.pre`: selects llama.cpp's pre-tokenizer (its split regex). */
  pre: string;
  tokens: string[];
  types: number[];
  /** SentencePiece piece scores (the `llama` model merges by them). */
  scores?: number[];
  merges: string[];
  bosId: number;
  /** Instruct GGUFs use the end-of-turn token as EOS so chat turns end there. */
  eosId: number;
  padId?: number;
  unkId?: number;
  addBos: boolean;
  /** SentencePiece only: whether a space is put before the text (Gemma 3: no). */
  addSpacePrefix?: boolean;
  template: string;
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
  return {
    model: "gpt2", pre: "llama-bpe", tokens, types, merges: [], bosId: id("<|begin_of_text|>"), eosId: id("<|eot_id|>"),
    addBos: true, template: LLAMA3_INSTRUCT_TEMPLATE,
  };
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
