import { readFileSync } from "node:fs";
import { LlamaText, resolvableChatWrapperTypeNames, resolveChatWrapper, type ChatWrapper, type LlamaModel, type ResolveChatWrapperWithModelOptions, type Token } from "node-llama-cpp";
import type { TemplateSettings } from "../../models/registry/ModelRegistry.ts";
import type { ReasoningSyntax } from "../ReasoningSplitter.ts";
import type { ChatTemplateInfo, TemplateOptions } from "../types.ts";

/**
 * A model's chat template: the chat wrapper that renders its prompts (per request template options:
 * thinking on or off, reasoning effort), the markers of its reasoning, and the special tokens that
 * must be rendered as text for the reasoning and tool-call readers to see them.
 */
export class ChatTemplate {
  readonly #model: LlamaModel;
  readonly #settings: TemplateSettings;
  readonly #template: string | undefined;
  readonly #wrappers = new Map<string, ChatWrapper>();
  readonly #base: ChatWrapper;
  /** What /v1/models shows. */
  readonly info: ChatTemplateInfo;
  readonly reasoning: ReasoningSyntax | null;
  readonly markerTokens: ReadonlySet<Token>;

  constructor(model: LlamaModel, settings: TemplateSettings = {}) {
    this.#model = model;
    this.#settings = settings;
    const names = ["auto", "jinja", ...resolvableChatWrapperTypeNames];
    if (settings.wrapper !== undefined && !names.includes(settings.wrapper)) throw new Error(`chat_wrapper '${settings.wrapper}' is not one of ${names.join(", ")}`);
    this.#template = settings.templateFile !== undefined ? readFileSync(settings.templateFile, "utf8") : undefined;
    // node-llama-cpp's resolution renders the template against each family's wrapper: done once here.
    const auto = this.#resolveAs("auto", {});
    this.#base = this.#resolve({}, undefined, auto);
    this.reasoning = reasoningSyntax(this.#base) ?? thinkTokens(model);
    this.info = {
      family: auto.wrapperName, wrapper: this.#base.wrapperName,
      source: this.#template !== undefined ? "file" : "gguf", reasoning: this.reasoning !== null,
    };
    this.markerTokens = markerTokens(model, this.#base, this.reasoning);
  }

  /**
   * Whether a reply should think before a constrained answer: the model reasons in a block of its
   * own (not gpt-oss's channels, whose final-channel header the answer's grammar would not allow)
   * and the request did not turn thinking off.
   */
  thinksFirst(options: TemplateOptions | undefined): boolean {
    const r = this.reasoning;
    if (!r || r.drop.length > 0) return false;
    return ({ ...this.#settings.kwargs, ...options?.kwargs }).enable_thinking !== false;
  }

  /** The wrapper for a request's template options (a wrapper per distinct set, kept). */
  wrapperFor(options: TemplateOptions | undefined): ChatWrapper {
    const kwargs = { ...this.#settings.kwargs, ...options?.kwargs };
    const effort = options?.reasoningEffort ?? (typeof kwargs.reasoning_effort === "string" ? kwargs.reasoning_effort : undefined);
    if (Object.keys(kwargs).length === 0 && effort === undefined) return this.#base;
    const key = JSON.stringify([kwargs, effort]);
    let w = this.#wrappers.get(key);
    if (!w) {
      if (this.#wrappers.size >= 64) this.#wrappers.clear();
      w = this.#resolve(kwargs, effort);
      this.#wrappers.set(key, w);
    }
    return w;
  }

  /**
   * `auto`: the model's template as node-llama-cpp's Jinja wrapper renders it, unless node-llama-cpp
   * resolves the family's own wrapper for a format with reasoning (Qwen3's thinking block, gpt-oss's
   * channels), which the Jinja wrapper cannot read back. Other specialized wrappers are not taken:
   * one that only resembles the template can add to it (Llama 3.1's dated system prompt on a Llama 3
   * template).
   */
  #resolve(kwargs: Record<string, unknown>, effort?: string, resolved?: ChatWrapper): ChatWrapper {
    const wrapper = this.#settings.wrapper ?? "auto";
    if (wrapper !== "auto") return this.#resolveAs(wrapper === "jinja" ? "jinjaTemplate" : wrapper, kwargs, effort);
    const auto = resolved ?? this.#resolveAs("auto", kwargs, effort);
    return auto.settings.segments?.thought ? auto : this.#resolveAs("jinjaTemplate", kwargs, effort);
  }

  #resolveAs(type: string, kwargs: Record<string, unknown>, effort?: string): ChatWrapper {
    const thinkingOff = kwargs.enable_thinking === false;
    const render = { ...kwargs, ...(effort !== undefined ? { reasoning_effort: effort } : {}) };
    const options: ResolveChatWrapperWithModelOptions = {
      type: type as NonNullable<ResolveChatWrapperWithModelOptions["type"]>,
      customWrapperSettings: {
        ...(this.#template !== undefined || Object.keys(render).length > 0
          ? {
            jinjaTemplate: {
              ...(this.#template !== undefined ? { template: this.#template } : {}), additionalRenderParameters: render,
              // The Jinja wrapper sets `enable_thinking` itself, over the render parameters: from its `reasoning` option.
              ...(typeof kwargs.enable_thinking === "boolean" ? { reasoning: kwargs.enable_thinking } : {}),
            },
          }
          : {}),
        // The families' own wrappers take these as options rather than template variables.
        qwen: { thoughts: thinkingOff ? "discourage" : "auto" },
        harmony: effort !== undefined ? { reasoningEffort: effort as "low" } : {},
      },
    };
    return resolveChatWrapper(this.#model, options);
  }
}

/** The wrapper's thought segment (node-llama-cpp's `settings.segments.thought`) and its framing, as text. */
function reasoningSyntax(w: ChatWrapper): ReasoningSyntax | null {
  const thought = w.settings.segments?.thought;
  if (!thought) return null;
  const text = (t: unknown) => LlamaText(t as never).toString();
  const open = text(thought.prefix);
  const close = text(thought.suffix);
  // Harmony answers in channels: between its messages the model writes headers that are not text.
  const harmony = open.startsWith("<|channel|>");
  const comment = w.settings.segments?.comment;
  return {
    open: [open, open.trim()].filter(unique),
    close: [close, close.trim()].filter(unique),
    drop: harmony ? ["<|start|>assistant", "<|channel|>final<|message|>", "<|channel|>final", "<|channel|>commentary", ...(comment ? [text(comment.prefix)] : [])].filter(unique) : [],
  };
}

/**
 * A template node-llama-cpp reads no reasoning from (a user's replacement, an unknown family) on a
 * vocabulary with `<think>` and `</think>` tokens: the block is still read apart from the answer.
 */
function thinkTokens(model: LlamaModel): ReasoningSyntax | null {
  if (!isOneToken(model, "<think>") || !isOneToken(model, "</think>")) return null;
  return { open: ["<think>\n", "<think>"], close: ["\n</think>", "</think>"], drop: [] };
}

function unique<T>(x: T, i: number, all: readonly T[]): boolean {
  return x !== "" && all.indexOf(x) === i;
}

/**
 * Control tokens inside the reasoning markers and the call syntax: detokenized as text (normally
 * they render as nothing), so that the readers can see them.
 */
function markerTokens(model: LlamaModel, w: ChatWrapper, reasoning: ReasoningSyntax | null): Set<Token> {
  const call = w.settings.functions.call;
  const prefix = LlamaText(call.prefix as never).toString();
  const tag = jsonCallTag(model, prefix);
  const section = w.settings.functions.parallelism?.call.sectionPrefix;
  const texts = [
    ...(reasoning ? [...reasoning.open, ...reasoning.close, ...reasoning.drop] : []), prefix, LlamaText(call.paramsPrefix as never).toString(),
    ...(tag ? [tag] : []), ...(section ? [LlamaText(section as never).toString()] : []),
  ];
  const out = new Set<Token>();
  for (const t of texts) {
    for (const token of model.tokenize(t, true)) {
      if (model.isSpecialToken(token) && model.detokenize([token], false) === "" && !model.isEogToken(token)) out.add(token);
    }
  }
  return out;
}

/** `<|python_tag|>` where the vocabulary has it as a token of its own and the call syntax is JSON. */
export function jsonCallTag(model: LlamaModel, prefix: string): string | undefined {
  if (!prefix.startsWith('{"name"')) return undefined;
  const tag = "<|python_tag|>";
  return isOneToken(model, tag) ? tag : undefined;
}

/** Whether the vocabulary has `text` as a token of its own (a family's marker). */
function isOneToken(model: LlamaModel, text: string): boolean {
  const ids = model.tokenize(text, true);
  return ids.length === 1 && model.detokenize(ids, true) === text;
}
