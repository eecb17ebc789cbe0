import { errors } from "../errors.ts";
import type { GenerateRequest, Prompt } from "./types.ts";

/**
 * The most bytes of text one token can stand for (K), from the vocabulary's pieces as the GGUF
 * stores them, or undefined where a text's size bounds nothing. A byte-level BPE piece ("gpt2")
 * writes each byte as one character of one or two UTF-8 bytes; a SentencePiece piece ("llama")
 * writes a space as "▁" (three bytes) and a raw byte as "<0xNN>": either way a piece is at least as
 * long as the text it stands for. At least 4: a character with no token of its own (one of up to 4
 * bytes) may become one unknown token. Other tokenizers may drop text (WordPiece drops spaces and
 * accents, T5's unigram collapses spaces), so a long text may still be few tokens.
 */
export function maxTokenBytes(tokenizer: { model?: unknown; tokens?: unknown } | undefined): number | undefined {
  if (!tokenizer || (tokenizer.model !== "gpt2" && tokenizer.model !== "llama") || !Array.isArray(tokenizer.tokens)) return undefined;
  let max = 4;
  for (const piece of tokenizer.tokens as unknown[]) {
    if (typeof piece === "string" && piece.length * 3 > max) max = Math.max(max, Buffer.byteLength(piece));
  }
  return max;
}

/**
 * Tokens the prompt takes at least, from its size alone, for a model whose tokens stand for at most
 * `k` bytes each: no tokenizing, so a prompt far too long is refused in microseconds. A chat prompt
 * counts its user messages only, trimmed: chat templates render every user message, some trimmed
 * (Llama 3's), while system and tool messages may be moved, merged or left out.
 */
export function minPromptTokens(prompt: Prompt, k: number): number {
  switch (prompt.kind) {
    case "tokens": return prompt.tokens.length;
    case "text": return Math.ceil(Buffer.byteLength(prompt.text) / k);
    case "chat": {
      let bytes = 0;
      for (const m of prompt.messages) if (m.role === "user") bytes += Buffer.byteLength(trimmed(m.content));
      return Math.ceil(bytes / k);
    }
  }
}

/**
 * The text without the leading and trailing characters a template's `trim` may remove (Python's
 * whitespace, and more: removing too much only lowers the bound). A loop, not a regular
 * expression: /\s+$/ is quadratic on a long run of spaces followed by a letter.
 */
function trimmed(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isSpace(c: number): boolean {
  return c <= 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** The most tokens a request may generate: its `maxTokens`, bounded by the room its prompt leaves in the context. */
export function completionBudget(maxTokens: number | undefined, promptTokens: number, contextSize: number): number {
  return Math.min(maxTokens ?? Infinity, contextSize - promptTokens);
}

/**
 * Refuses a request whose prompt leaves no room in the context for its `maxTokens` (one token when
 * it sets none); `atLeast`: `promptTokens` is a bound from the prompt's size, not a count.
 */
export function checkRoom(req: GenerateRequest, promptTokens: number, contextSize: number, atLeast = false): void {
  if (promptTokens + (req.maxTokens ?? 1) > contextSize) {
    throw errors.contextLengthExceeded(promptTokens, req.maxTokens, contextSize, req.prompt.kind === "chat" ? "messages" : "prompt", atLeast);
  }
}
