import { LlamaText, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from "node-llama-cpp";
import { errors } from "../../errors.ts";
import type { ChatMessage, Prompt } from "../types.ts";

export interface BuiltPrompt {
  tokens: Token[];
  /** Tokens that end a turn in this prompt's format, beyond the model's own EOS/EOT. */
  stopTokens: ReadonlySet<Token>;
}

const NO_STOP_TOKENS: ReadonlySet<Token> = new Set();

/**
 * Turns a request's prompt into tokens: chat messages through the chat template the model carries
 * (node-llama-cpp's chat-wrapper resolution), raw text as llama-server does (BOS when the model asks
 * for it, special tokens parsed), token ids checked against the vocabulary.
 */
export class PromptBuilder {
  readonly #model: LlamaModel;
  readonly #chatWrapper: ChatWrapper;
  readonly vocabularySize: number;

  constructor(model: LlamaModel) {
    this.#model = model;
    // Render the template the model carries. Auto resolution may pick a specialized wrapper that only
    // resembles it (for a Llama 3 template it can pick Llama 3.1's, which adds a dated system prompt).
    this.#chatWrapper = resolveChatWrapper(model, { type: "jinjaTemplate" });
    const tokens: unknown = model.fileInfo.metadata.tokenizer?.ggml?.tokens;
    this.vocabularySize = Array.isArray(tokens) ? tokens.length : Number.MAX_SAFE_INTEGER;
  }

  build(prompt: Prompt): BuiltPrompt {
    switch (prompt.kind) {
      case "chat": return chatPrompt(this.#model, this.#chatWrapper, prompt.messages);
      case "text": return this.#text(prompt.text);
      case "tokens": return this.#tokens(prompt.tokens);
    }
  }

  #text(text: string): BuiltPrompt {
    const model = this.#model;
    const tokens = model.tokenize(text, true);
    const bos = model.tokens.bos;
    if (bos != null && model.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos);
    if (tokens.length === 0) throw errors.invalidRequest("The prompt is empty.", "prompt");
    return { tokens, stopTokens: NO_STOP_TOKENS };
  }

  #tokens(ids: readonly number[]): BuiltPrompt {
    if (ids.length === 0) throw errors.invalidRequest("The prompt is empty.", "prompt");
    const bad = ids.findIndex((t) => t >= this.vocabularySize);
    if (bad >= 0) throw errors.invalidRequest(`Token id ${ids[bad]} at prompt[${bad}] is outside the vocabulary (size ${this.vocabularySize}).`, "prompt");
    return { tokens: ids.slice() as Token[], stopTokens: NO_STOP_TOKENS };
  }
}

function chatPrompt(model: LlamaModel, chatWrapper: ChatWrapper, messages: readonly ChatMessage[]): BuiltPrompt {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === "system" || m.role === "developer" ? { type: "system", text: m.content }
      : m.role === "assistant" ? { type: "model", response: [m.content] }
        : { type: "user", text: m.content },
  );
  // A trailing assistant message is a prefill the reply continues; otherwise open a new reply.
  if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
  const state = chatWrapper.generateContextState({ chatHistory: history });
  const stopTokens = new Set<Token>();
  for (const trigger of state.stopGenerationTriggers) {
    const tokens = LlamaText(trigger).tokenize(model.tokenizer, "trimLeadingSpace");
    if (tokens.length === 1 && model.isSpecialToken(tokens[0])) stopTokens.add(tokens[0]!);
  }
  return { tokens: state.contextText.tokenize(model.tokenizer), stopTokens };
}
