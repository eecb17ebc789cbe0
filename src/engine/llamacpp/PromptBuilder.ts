import { LlamaText, type ChatHistoryItem, type ChatModelFunctionCall, type ChatModelFunctions, type ChatModelResponse, type ChatWrapper, type LlamaModel, type Token } from "node-llama-cpp";
import { errors } from "../../errors.ts";
import { ReasoningSplitter, type ReasoningSyntax } from "../ReasoningSplitter.ts";
import type { ToolCallSyntax } from "../ToolCallDetector.ts";
import type { ChatMessage, GenerateRequest, ToolDefinition } from "../types.ts";
import type { TemplateSettings } from "../../models/registry/ModelRegistry.ts";
import { ChatTemplate, jsonCallTag } from "./ChatTemplate.ts";

export interface BuiltPrompt {
  tokens: Token[];
  /** Tokens that end a turn in this prompt's format, beyond the model's own EOS/EOT. */
  stopTokens: ReadonlySet<Token>;
  /** A chat prompt with tools: the template's function-call syntax, for reading calls the model writes. */
  toolCallSyntax?: ToolCallSyntax;
  /** A chat prompt on a model that reasons: its markers, and whether the reply starts inside the block. */
  reasoning?: { syntax: ReasoningSyntax; startInReasoning: boolean };
}

const NO_STOP_TOKENS: ReadonlySet<Token> = new Set();

/**
 * Turns a request's prompt into tokens: chat messages through the model's chat template (see
 * ChatTemplate), raw text as llama-server does (BOS when the model asks for it, special tokens
 * parsed), token ids checked against the vocabulary.
 */
export class PromptBuilder {
  readonly #model: LlamaModel;
  readonly template: ChatTemplate;
  readonly vocabularySize: number;

  constructor(model: LlamaModel, template?: TemplateSettings) {
    this.#model = model;
    this.template = new ChatTemplate(model, template);
    const tokens: unknown = model.fileInfo.metadata.tokenizer?.ggml?.tokens;
    this.vocabularySize = Array.isArray(tokens) ? tokens.length : Number.MAX_SAFE_INTEGER;
  }

  build(req: Pick<GenerateRequest, "prompt" | "template" | "constraint">): BuiltPrompt {
    const prompt = req.prompt;
    switch (prompt.kind) {
      case "chat": {
        // A constrained answer on a thinking model: the reply opens with the thinking block, and the
        // constraint applies once it closes.
        const think = req.constraint !== undefined && this.template.thinksFirst(req.template);
        return chatPrompt(this.#model, this.template.wrapperFor(req.template), this.template.reasoning, prompt.messages, prompt.tools, think);
      }
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

function chatPrompt(model: LlamaModel, chatWrapper: ChatWrapper, reasoning: ReasoningSyntax | null, messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | undefined, think: boolean): BuiltPrompt {
  const history: ChatHistoryItem[] = [];
  // node-llama-cpp keeps a tool's result on the call itself: tool messages fill in their call's result.
  const calls = new Map<string, ChatModelFunctionCall>();
  const prefill = messages.at(-1)?.role === "assistant" && !messages.at(-1)?.toolCalls?.length ? messages.at(-1) : undefined;
  for (const m of messages) {
    if (m.role === "system" || m.role === "developer") history.push({ type: "system", text: m.content });
    else if (m.role === "user") history.push({ type: "user", text: m.content });
    else if (m.role === "assistant") {
      const response: ChatModelResponse["response"] = [];
      // A prefill with reasoning and no answer yet: the reply continues the reasoning.
      if (m.reasoning) response.push({ type: "segment", segmentType: "thought", text: m.reasoning, ended: m !== prefill || m.content !== "" });
      if (m.content) response.push(m.content);
      for (const tc of m.toolCalls ?? []) {
        const call: ChatModelFunctionCall = { type: "functionCall", name: tc.name, params: parseJson(tc.arguments), result: undefined };
        calls.set(tc.id, call);
        response.push(call);
      }
      history.push({ type: "model", response });
    } else {
      const call = m.toolCallId !== undefined ? calls.get(m.toolCallId) : undefined;
      if (call) call.result = parseJson(m.content);
      else history.push({ type: "user", text: m.content }); // no matching call: the result as text
    }
  }
  // A trailing assistant message is a prefill the reply continues; otherwise open a new reply.
  if (history.at(-1)?.type !== "model" || (messages.at(-1)?.toolCalls?.length ?? 0) > 0) {
    history.push({ type: "model", response: think ? [{ type: "segment", segmentType: "thought", text: "", ended: false }] : [] });
  }
  const availableFunctions: ChatModelFunctions | undefined = tools && tools.length > 0
    ? Object.fromEntries(tools.map((t) => [t.name, { ...(t.description ? { description: t.description } : {}), ...(t.parameters ? { params: t.parameters as never } : {}) }]))
    : undefined;
  const state = chatWrapper.generateContextState({ chatHistory: history, ...(availableFunctions ? { availableFunctions, documentFunctionParams: true } : {}) });
  const stopTokens = new Set<Token>();
  for (const trigger of state.stopGenerationTriggers) {
    const tokens = LlamaText(trigger).tokenize(model.tokenizer, "trimLeadingSpace");
    if (tokens.length === 1 && model.isSpecialToken(tokens[0])) stopTokens.add(tokens[0]!);
  }
  const tokens = state.contextText.tokenize(model.tokenizer);
  return {
    tokens, stopTokens,
    ...(availableFunctions ? { toolCallSyntax: toolCallSyntax(model, chatWrapper) } : {}),
    ...(reasoning ? { reasoning: { syntax: reasoning, startInReasoning: opensReasoning(reasoning, state.contextText.toString(), messages) } } : {}),
  };
}

/**
 * Whether the reply starts inside a thinking block: the template opened it (DeepSeek R1's ends its
 * prompt with `<think>`), or an assistant prefill the reply continues did.
 */
function opensReasoning(syntax: ReasoningSyntax, context: string, messages: readonly ChatMessage[]): boolean {
  const end = context.trimEnd();
  if (syntax.open.some((o) => end.endsWith(o.trimEnd()))) return true;
  const last = messages.at(-1);
  if (last?.role !== "assistant" || last.toolCalls?.length) return false;
  if (!last.content) return last.reasoning !== undefined && last.reasoning !== "";
  const splitter = new ReasoningSplitter(syntax, false);
  splitter.push(last.content);
  return splitter.inReasoning;
}

/**
 * The wrapper's call syntax (node-llama-cpp's `settings.functions.call`, and `parallelism` for
 * several calls) as plain text. A call, or a section of calls, that opens with a special token
 * (Qwen's `<tool_call>`, Mistral's `[TOOL_CALLS]`) starts when that token is sampled: the token is
 * the prefix, and the grammar writes the rest with the name.
 */
function toolCallSyntax(model: LlamaModel, chatWrapper: ChatWrapper): ToolCallSyntax {
  // The same for every request a wrapper renders: read once (it tokenizes its markers).
  const known = syntaxes.get(chatWrapper);
  if (known) return known;
  const syntax = readToolCallSyntax(model, chatWrapper);
  syntaxes.set(chatWrapper, syntax);
  return syntax;
}

const syntaxes = new WeakMap<ChatWrapper, ToolCallSyntax>();

function readToolCallSyntax(model: LlamaModel, chatWrapper: ChatWrapper): ToolCallSyntax {
  const call = chatWrapper.settings.functions.call;
  const parallel = chatWrapper.settings.functions.parallelism;
  const text = (t: unknown) => LlamaText(t as never).toString();
  const prefix = text(call.prefix);
  const prefixes: string[] = [];
  const namePrefixes: Record<string, string> = {};
  const open = (whole: string): string => {
    const marker = leadingMarker(model, whole);
    const lead = marker !== "" && marker !== whole ? marker : whole;
    prefixes.push(lead);
    if (lead !== whole) namePrefixes[lead] = whole.slice(lead.length);
    return lead;
  };
  const section = parallel ? text(parallel.call.sectionPrefix) : "";
  if (section !== "") open(section + prefix);
  const single = open(prefix);
  prefixes.push(...(call.prefixAlternateMatches ?? []).map(text));
  // Llama 3.1 may open a JSON call with its <|python_tag|> token (Meta's prompt format): that token
  // starts the same call.
  const pythonTag = jsonCallTag(model, prefix);
  if (pythonTag) {
    prefixes.push(pythonTag);
    namePrefixes[pythonTag] = prefix;
  }
  return {
    prefixes: prefixes.filter((p, i, all) => p !== "" && all.indexOf(p) === i),
    paramsPrefix: text(call.paramsPrefix),
    ...(Object.keys(namePrefixes).length > 0 ? { namePrefixes } : {}),
    optionalPrefixSpace: call.optionalPrefixSpace === true,
    ...(parallel ? { next: { suffix: text(call.suffix), between: text(parallel.call.betweenCalls), prefix: single, end: plainStart(parallel.call.sectionSuffix) } } : {}),
  };
}

/** The special (control or user-defined) token `text` starts with, as text; "" if none. */
function leadingMarker(model: LlamaModel, text: string): string {
  const first = text === "" ? undefined : model.tokenize(text, true)[0];
  const attributes = first !== undefined ? model.getTokenAttributes(first) : undefined;
  const marker = attributes && (attributes.control || attributes.userDefined) ? model.detokenize([first!], true) : "";
  return text.startsWith(marker) ? marker : "";
}

/** The plain text a LlamaText starts with, up to its first special token (Mistral's `]` before EOS). */
function plainStart(t: unknown): string {
  let out = "";
  for (const v of LlamaText(t as never).values) {
    if (typeof v !== "string") break;
    out += v;
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

