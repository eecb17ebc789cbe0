import { availableParallelism } from "node:os";
import { basename } from "node:path";
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { errors, HearthError } from "../../errors.ts";
import { checkGgufFile } from "../../models/gguf/checkGgufFile.ts";
import { Generation } from "../Generation.ts";
import type { Engine, GenerateRequest, ModelInfo, Prompt, TokenEvent } from "../types.ts";
import { PromptBuilder } from "./PromptBuilder.ts";
import { SlotPool } from "./SlotPool.ts";

export interface LlamaCppEngineOptions {
  modelPath: string;
  /** The name clients use in `model`. */
  modelId: string;
  /** CPU threads for llama.cpp. Defaults to the physical cores; never more than the cores. */
  threads?: number;
  /** Tokens of context per slot. */
  contextSize: number;
  /** Sequences decoded side by side. */
  slots: number;
  gpu: "auto" | "cpu" | "cuda" | "vulkan";
  /** Receives llama.cpp's own log lines. */
  log?: (level: "debug" | "warn" | "error", message: string) => void;
}

interface Loaded {
  model: LlamaModel;
  context: LlamaContext;
  prompts: PromptBuilder;
  slots: SlotPool<LlamaContextSequence>;
  endTokens: Set<Token>;
}

/**
 * One GGUF model in this process: a llama.cpp context with one sequence per slot. Each request
 * takes a free slot (the one holding the longest prefix of its prompt) and is decoded there.
 */
export class LlamaCppEngine implements Engine {
  readonly #opts: LlamaCppEngineOptions;
  readonly #created = Math.floor(Date.now() / 1000);
  readonly #running = new Map<string, AbortController>();
  #llama: Llama | undefined;
  #loaded: Loaded | undefined;
  #loadError: string | undefined;
  #threads = 0;
  #loading: Promise<void> | undefined;

  constructor(opts: LlamaCppEngineOptions) {
    this.#opts = opts;
  }

  /**
   * Loads the model; until it resolves the model reports "loading". A failed load does not reject:
   * the model reports "error" with the reason, and requests for it get 503 model_load_failed.
   */
  load(): Promise<void> {
    this.#loading ??= this.#load().catch((err: unknown) => {
      this.#loadError = describeLoadError(err, this.#opts.modelPath);
      this.#opts.log?.("error", `model ${this.#opts.modelId} failed to load: ${this.#loadError}`);
    });
    return this.#loading;
  }

  /** CPU threads llama.cpp uses, once loaded. */
  get threads(): number { return this.#threads; }

  models(): ModelInfo[] {
    const status = this.#loadError ? "error" : this.#loaded ? "ready" : "loading";
    return [{
      id: this.#opts.modelId,
      status,
      created: this.#created,
      contextSize: this.#loaded?.context.contextSize ?? this.#opts.contextSize,
      ...(this.#loadError ? { error: this.#loadError } : {}),
    }];
  }

  async countTokens(model: string, prompt: Prompt): Promise<number> {
    const loaded = this.#require(model);
    return loaded.prompts.build(prompt).tokens.length;
  }

  async *generate(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<TokenEvent> {
    const loaded = this.#require(req.model);
    const { tokens: promptTokens, stopTokens } = loaded.prompts.build(req.prompt);
    const contextSize = loaded.context.contextSize;
    if (promptTokens.length + (req.maxTokens ?? 1) > contextSize) {
      throw errors.contextLengthExceeded(promptTokens.length, req.maxTokens, contextSize, req.prompt.kind === "chat" ? "messages" : "prompt");
    }

    yield { type: "accepted", promptTokens: promptTokens.length };
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) controller.abort();
    this.#running.set(req.id, controller);
    const slot = await loaded.slots.acquire(promptTokens, controller.signal).catch(() => undefined);
    let done: TokenEvent | undefined;
    try {
      if (!slot) return;
      done = yield* this.#decode(loaded, slot.item, req, promptTokens, stopTokens, contextSize, controller.signal);
    } finally {
      slot?.release();
      this.#running.delete(req.id);
      signal?.removeEventListener("abort", onAbort);
    }
    // Sent after the slot is free: a consumer that stops reading at "done" leaks nothing.
    if (done) yield done;
  }

  abort(id: string): void {
    this.#running.get(id)?.abort();
  }

  async close(): Promise<void> {
    for (const c of this.#running.values()) c.abort();
    await this.#loading;
    await this.#loaded?.context.dispose();
    await this.#loaded?.model.dispose();
    await this.#llama?.dispose();
  }

  async *#decode(
    loaded: Loaded, seq: LlamaContextSequence, req: GenerateRequest, promptTokens: Token[],
    stopTokens: ReadonlySet<Token>, contextSize: number, signal: AbortSignal,
  ): AsyncGenerator<TokenEvent, TokenEvent | undefined> {
    // Keep the KV state of the prefix this slot already holds; at least one prompt token must be
    // evaluated again so that there are logits to sample the first new token from.
    const reused = Math.min(seq.compareContextTokens(promptTokens).firstDifferentIndex, promptTokens.length - 1);
    if (reused < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: reused, end: seq.nextTokenIndex }]);

    const generated: Token[] = [];
    const { model } = loaded;
    const generation = new Generation({
      detokenize: (tokens, previous) => model.detokenize(tokens as Token[], false, previous as Token[]),
      isEndToken: (t) => loaded.endTokens.has(t as Token) || stopTokens.has(t as Token),
      stop: req.stop,
      maxTokens: Math.min(req.maxTokens ?? Infinity, contextSize - promptTokens.length),
    });
    const { presencePenalty = 0, frequencyPenalty = 0, ...sampling } = req.sampling;
    const penalize = presencePenalty !== 0 || frequencyPenalty !== 0;
    const iterator = seq.evaluate(promptTokens.slice(reused), {
      temperature: sampling.temperature,
      topK: sampling.topK ?? 0,
      topP: sampling.topP ?? 1,
      minP: sampling.minP ?? 0,
      seed: sampling.seed ?? randomSeed(),
      yieldEogToken: true,
      ...(penalize ? { repeatPenalty: { punishTokens: () => generated.slice(-64), penalty: 1, presencePenalty, frequencyPenalty } } : {}),
    });

    try {
      for await (const token of iterator) {
        if (signal.aborted) return;
        generated.push(token);
        const text = generation.accept(token);
        if (text) yield { type: "text", text };
        if (generation.finishReason) break;
      }
    } catch (err) {
      if (signal.aborted) return;
      throw HearthError.is(err) ? err : errors.engineFailed(err instanceof Error ? err.message : String(err));
    } finally {
      await iterator.return(undefined);
    }
    if (signal.aborted) return undefined;
    return {
      type: "done",
      finishReason: generation.finishReason ?? "stop",
      usage: { promptTokens: promptTokens.length, completionTokens: generation.completionTokens, cachedPromptTokens: reused },
    };
  }

  #require(model: string): Loaded {
    if (model !== this.#opts.modelId) throw errors.modelNotFound(model);
    if (this.#loadError) throw errors.modelLoadFailed(model, this.#loadError);
    if (!this.#loaded) throw errors.modelLoading(model);
    return this.#loaded;
  }

  async #load(): Promise<void> {
    const { log } = this.#opts;
    this.#llama = await getLlama({
      gpu: this.#opts.gpu === "cpu" ? false : this.#opts.gpu,
      build: "never",
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => log?.(level === LlamaLogLevel.error || level === LlamaLogLevel.fatal ? "error" : level === LlamaLogLevel.warn ? "warn" : "debug", message.trimEnd()),
    });
    // ggml's worker threads spin: more threads than cores makes decoding many times slower.
    const threads = Math.min(this.#opts.threads ?? this.#llama.cpuMathCores, availableParallelism());
    this.#llama.maxThreads = threads;
    this.#threads = threads;
    await checkGgufFile(this.#opts.modelPath);
    const model = await this.#llama.loadModel({ modelPath: this.#opts.modelPath });
    try {
      const context = await model.createContext({
        contextSize: Math.min(this.#opts.contextSize, model.trainContextSize),
        sequences: this.#opts.slots,
        threads: { ideal: threads, min: threads },
      });
      const sequences = Array.from({ length: this.#opts.slots }, () => context.getSequence());
      const endTokens = new Set([model.tokens.eos, model.tokens.eot].filter((t): t is Token => t != null));
      const slots = new SlotPool(sequences, (seq, tokens) => seq.compareContextTokens(tokens as Token[]).firstDifferentIndex);
      this.#loaded = { model, context, prompts: new PromptBuilder(model), endTokens, slots };
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }
}

function randomSeed(): number {
  return Math.floor(Math.random() * 0xffffffff);
}

/** A load failure in words a client may see: the file's base name, never its full path. */
function describeLoadError(err: unknown, modelPath: string): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(modelPath).join(basename(modelPath)).split("\n")[0] ?? "unknown error";
}
