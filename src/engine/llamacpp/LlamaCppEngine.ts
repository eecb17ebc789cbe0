import { availableParallelism } from "node:os";
import { basename } from "node:path";
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";
import { errors } from "../../errors.ts";
import { checkGgufFile } from "../../models/gguf/checkGgufFile.ts";
import { Scheduler } from "../../scheduler/Scheduler.ts";
import type { ChatTemplateInfo, Embeddings, GenerateRequest, ModelSnapshot, Prompt, PromptOptions, Ranking } from "../types.ts";
import { checkRoom, maxTokenBytes } from "../promptBound.ts";
import { emptyStepStats } from "../stepStats.ts";
import { ExtraContexts, type OnContext } from "./ExtraContexts.ts";
import { Grammars } from "./Grammars.ts";
import type { TemplateSettings } from "../../models/registry/ModelRegistry.ts";
import { PromptBuilder } from "./PromptBuilder.ts";
import { PromptCache } from "./PromptCache.ts";
import { StateCopier } from "./StateCopier.ts";
import { StepLoop, type Outcome } from "./StepLoop.ts";
import { Utf8Bans } from "./Utf8Guard.ts";

export interface LlamaCppEngineOptions {
  modelPath: string;
  /** The name clients use in `model`. */
  modelId: string;
  /** CPU threads for llama.cpp. Defaults to the physical cores; never more than the cores. */
  threads?: number;
  /** Tokens of context per slot (prompt plus completion). */
  contextSize: number;
  /** Sequences decoded together. */
  slots: number;
  /** Requests that may wait for a busy slot before new ones get 429. */
  maxQueue: number;
  /** Per request, from arrival (queue wait counts). */
  timeoutMs: number;
  /** Tokens evaluated per step (llama.cpp batch size). */
  batchSize: number;
  /** Shared prompt prefix, in tokens, worth choosing a slot for even if it leaves a gap. */
  minPrefixReuse: number;
  /** See SchedulerOptions.minPrefixCopy. */
  minPrefixCopy: number;
  /** The prompt cache's bound in bytes (cache.prompt_ram_bytes); 0: none. */
  promptCacheBytes?: number;
  /** The prompt cache's bound in entries (cache.prompt_entries). Defaults to 1024; 0: no cache. */
  promptCacheEntries?: number;
  gpu: "auto" | "cpu" | "cuda" | "vulkan";
  /** llama.cpp's library, when it was loaded beforehand for this `gpu` (a runner started ahead of need). */
  llama?: Promise<Llama>;
  /** Receives llama.cpp's own log lines. */
  log?: (level: "debug" | "warn" | "error", message: string) => void;
  /** The model's chat template settings (which wrapper, a replacement template, variables). */
  template?: TemplateSettings;
}

interface Loaded {
  model: LlamaModel;
  context: LlamaContext;
  prompts: PromptBuilder;
  scheduler: Scheduler;
  loop: StepLoop;
  extra: ExtraContexts;
}

/**
 * One GGUF model: a llama.cpp context with one sequence per slot, driven by a StepLoop. It lives
 * in a runner process (see runner/), whose RunnerEngine is the server's Engine for it.
 */
export class LlamaCppEngine {
  readonly #opts: LlamaCppEngineOptions;
  readonly #listeners = new Map<string, (o: Outcome) => void>();
  #llama: Llama | undefined;
  #loaded: Loaded | undefined;
  #loadError: string | undefined;
  #threads = 0;
  #maxTokenBytes: number | undefined;
  #loading: Promise<void> | undefined;
  /** llama.cpp's error lines: node-llama-cpp's own load error only says "Failed to load model". */
  readonly #llamaErrors: string[] = [];
  readonly #copier = new StateCopier();

  constructor(opts: LlamaCppEngineOptions) {
    this.#opts = opts;
  }

  /** CPU threads llama.cpp uses, once loaded. */
  get threads(): number { return this.#threads; }
  /** Once loaded: the most bytes of text one token stands for (see maxTokenBytes), if the tokenizer keeps all text. */
  get maxTokenBytes(): number | undefined { return this.#maxTokenBytes; }

  /**
   * Loads the model; until it resolves the model reports "loading". A failed load does not reject:
   * the model reports "error" with the reason, and requests for it get 503 model_load_failed.
   */
  load(): Promise<void> {
    this.#loading ??= this.#load().catch((err: unknown) => {
      this.#loadError = describeLoadError(err, this.#llamaErrors.find((l) => l.includes("error loading model")) ?? this.#llamaErrors[0], this.#opts.modelPath);
      this.#opts.log?.("error", `model ${this.#opts.modelId} failed to load: ${this.#loadError}`);
    });
    return this.#loading;
  }

  /** Where loading stands: failed with a reason, loaded with the context size it got, or loading. */
  /** Once loaded: how its chat prompts are rendered. */
  get chat(): ChatTemplateInfo | undefined {
    return this.#loaded?.prompts.template.info;
  }

  status(): { state: "loading" | "loaded" | "failed"; contextSize: number; error?: string } {
    if (this.#loadError) return { state: "failed", contextSize: this.#opts.contextSize, error: this.#loadError };
    if (this.#loaded) return { state: "loaded", contextSize: this.#loaded.context.contextSize };
    return { state: "loading", contextSize: this.#opts.contextSize };
  }

  snapshot(): ModelSnapshot {
    const s = this.#loaded?.scheduler;
    const slots = s?.slots() ?? [];
    const cpu = process.cpuUsage();
    return {
      id: this.#opts.modelId,
      queued: s?.queued ?? 0,
      busySlots: s?.busy ?? 0,
      slots,
      stats: this.#loaded?.loop.stats ?? emptyStepStats(),
      kvUsedTokens: slots.reduce((n, slot) => n + slot.prefilledTokens + slot.generatedTokens, 0),
      kvTotalTokens: slots.length * (this.#loaded?.context.contextSize ?? 0),
      rssBytes: process.memoryUsage.rss(),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  }

  /**
   * Checks and queues a request; `listener` then gets its events (or its error) as the steps run.
   * Throws at once, before queueing, for an unknown model, a prompt that does not fit, a full queue.
   */
  submit(req: GenerateRequest, listener: (o: Outcome) => void): { promptTokens: number } {
    const loaded = this.#require(req.model);
    checkLogitBias(req.sampling.logitBias, loaded.prompts.vocabularySize);
    const built = loaded.prompts.build(req);
    checkRoom(req, built.tokens.length, loaded.context.contextSize);
    this.#listeners.set(req.id, listener);
    try {
      loaded.loop.submit(req, built);
    } catch (err) {
      this.#listeners.delete(req.id);
      throw err;
    }
    return { promptTokens: built.tokens.length };
  }

  /** Embeddings for a list of inputs (see ExtraContexts.embed). */
  embed(model: string, inputs: readonly (string | readonly number[])[], signal?: AbortSignal, onContext?: OnContext): Promise<Embeddings> {
    const loaded = this.#require(model);
    return loaded.extra.embed(inputs, loaded.prompts.vocabularySize, signal, onContext);
  }

  /** Relevance scores of documents for a query, with a reranker (see ExtraContexts.rank). */
  rank(model: string, query: string, documents: readonly string[], signal?: AbortSignal, onContext?: OnContext): Promise<Ranking> {
    return this.#require(model).extra.rank(query, documents, signal, onContext);
  }

  /** The model's tokens for a text, special tokens parsed (as llama-server's /tokenize). */
  tokenize(model: string, text: string, opts: { addSpecial: boolean; withPieces: boolean }): { tokens: number[]; pieces?: string[] } {
    const { model: m } = this.#require(model);
    const tokens = m.tokenize(text, true);
    const bos = m.tokens.bos;
    if (opts.addSpecial && bos != null && m.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos);
    const eos = m.tokens.eos;
    if (opts.addSpecial && eos != null && m.tokens.shouldAppendEosToken && tokens.at(-1) !== eos) tokens.push(eos);
    return { tokens, ...(opts.withPieces ? { pieces: tokens.map((t) => m.detokenize([t], true)) } : {}) };
  }

  /** The tokens a generation of this prompt would evaluate: built as `submit` builds it. */
  countTokens(model: string, prompt: Prompt, options: PromptOptions): number {
    return this.#require(model).prompts.build({ prompt, ...options }).tokens.length;
  }

  /** The text of token ids, special tokens rendered (as llama-server's /detokenize). */
  detokenize(model: string, tokens: readonly number[]): string {
    const loaded = this.#require(model);
    const size = loaded.prompts.vocabularySize;
    const bad = tokens.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= size);
    if (bad >= 0) throw errors.invalidRequest(`Token id ${tokens[bad]} at tokens[${bad}] is outside the vocabulary (size ${size}).`, "tokens");
    return loaded.model.detokenize(tokens as Token[], true);
  }

  /** Cancels a request; its final event (reason `cancelled`) still reaches its listener. */
  abort(id: string): void {
    this.#loaded?.loop.cancel(id);
  }

  async close(): Promise<void> {
    await this.#loading;
    if (this.#loaded) {
      for (const id of [...this.#listeners.keys()]) this.abort(id);
      await this.#loaded.loop.drain();
      await this.#loaded.extra.dispose();
      await this.#loaded.context.dispose();
      await this.#loaded.model.dispose();
    }
    this.#copier.dispose();
    await this.#llama?.dispose();
  }

  #emit(batch: Outcome[]): void {
    for (const o of batch) {
      const listener = this.#listeners.get(o.id);
      if (!listener) continue;
      if (o.event.type === "final") this.#listeners.delete(o.id);
      listener(o);
    }
  }

  #require(model: string): Loaded {
    if (model !== this.#opts.modelId) throw errors.modelNotFound(model);
    if (this.#loadError) throw errors.modelLoadFailed(model, this.#loadError);
    if (!this.#loaded) throw errors.modelLoading(model);
    return this.#loaded;
  }

  async #load(): Promise<void> {
    const o = this.#opts;
    // The file's check reads its header while llama.cpp's library loads: a fifth of a second of a start, hidden.
    const checked = checkGgufFile(o.modelPath);
    checked.catch(() => {});
    this.#llama = await (o.llama ?? loadLlama(o.gpu));
    this.#llama.logger = (level, message) => {
      const error = level === LlamaLogLevel.error || level === LlamaLogLevel.fatal;
      if (error && !this.#loaded && this.#llamaErrors.length < 32) this.#llamaErrors.push(message.trim());
      o.log?.(error ? "error" : level === LlamaLogLevel.warn ? "warn" : "debug", message.trimEnd());
    };
    // ggml's worker threads spin: more threads than cores makes decoding many times slower.
    const threads = Math.min(o.threads ?? this.#llama.cpuMathCores, availableParallelism());
    this.#llama.maxThreads = threads;
    this.#threads = threads;
    await checked;
    const model = await this.#llama.loadModel({ modelPath: o.modelPath });
    this.#maxTokenBytes = maxTokenBytes(model.fileInfo.metadata.tokenizer?.ggml as { model?: unknown; tokens?: unknown } | undefined);
    try {
      const creating = model.createContext({
        // A trained context that is not positive is garbage (checkGgufFile refuses the known cases).
        contextSize: model.trainContextSize > 0 ? Math.min(o.contextSize, model.trainContextSize) : o.contextSize,
        sequences: o.slots,
        batchSize: o.batchSize,
        threads: { ideal: threads, min: threads },
      });
      // Built while llama.cpp creates the context on a thread of its own: tens of milliseconds for a
      // 128k vocabulary, and up to 0.2 s to resolve the chat template, that the load then does not wait for.
      const tablesStarted = performance.now();
      const utf8 = Utf8Bans.forModel(model);
      o.log?.("debug", `UTF-8 tables for ${utf8.vocabulary.size} tokens in ${(performance.now() - tablesStarted).toFixed(1)} ms`);
      let prompts: PromptBuilder;
      try {
        prompts = new PromptBuilder(model, o.template);
      } catch (err) {
        await creating.catch(() => {}); // the model's disposal below also frees the context
        throw err;
      }
      const context = await creating;
      const sequences = Array.from({ length: o.slots }, () => context.getSequence());
      const maxEntries = o.promptCacheEntries ?? 1024;
      const promptCache = (o.promptCacheBytes ?? 0) > 0 && maxEntries > 0 && o.minPrefixCopy > 0
        ? new PromptCache({ maxBytes: o.promptCacheBytes!, maxEntries, minShared: o.minPrefixCopy, newFile: () => this.#copier.newFile() })
        : undefined;
      const scheduler = new Scheduler({
        slots: o.slots, maxQueue: o.maxQueue, timeoutMs: o.timeoutMs, stepTokens: o.batchSize, minPrefixReuse: o.minPrefixReuse, minPrefixCopy: o.minPrefixCopy, now: () => performance.now(),
        ...(promptCache ? { promptCache: (prompt: readonly number[]) => promptCache.match(prompt) } : {}),
      });
      const endTokens = new Set([model.tokens.eos, model.tokens.eot].filter((t): t is Token => t != null));
      const grammars = new Grammars(this.#llama, model);
      const loop = new StepLoop({
        model, modelId: o.modelId, sequences, scheduler, timeoutMs: o.timeoutMs, endTokens, markerTokens: prompts.template.markerTokens, grammars, utf8, copier: this.#copier,
        ...(promptCache ? { promptCache, minSaveTokens: o.minPrefixCopy } : {}), emit: (batch) => this.#emit(batch),
      });
      this.#loaded = { model, context, prompts, scheduler, loop, extra: new ExtraContexts(model, o.modelId, context.contextSize, threads) };
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }
}

/** Loads llama.cpp's library (its prebuilt binary for `gpu`; never a build at run time). */
export function loadLlama(gpu: LlamaCppEngineOptions["gpu"]): Promise<Llama> {
  return getLlama({ gpu: gpu === "cpu" ? false : gpu, build: "never", logLevel: LlamaLogLevel.warn });
}

/** OpenAI's logit_bias: token ids inside the vocabulary, biases -100..100 (a refusal before acceptance). */
function checkLogitBias(bias: Record<string, number> | undefined, vocabularySize: number): void {
  if (!bias) return;
  for (const [key, value] of Object.entries(bias)) {
    const id = Number(key);
    if (!/^(0|[1-9][0-9]*)$/.test(key) || id >= vocabularySize) {
      throw errors.invalidRequest(`'logit_bias' has the key '${key}', which is not a token id of this model (0 to ${vocabularySize - 1}).`, "logit_bias");
    }
    if (typeof value !== "number" || !(value >= -100 && value <= 100)) throw errors.invalidRequest(`'logit_bias' maps token ${key} to ${value}; biases are -100 to 100.`, "logit_bias");
  }
}

/** A load failure in words a client may see, with llama.cpp's reason: the file's base name, never its full path. */
function describeLoadError(err: unknown, llamaError: string | undefined, modelPath: string): string {
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "unknown error";
  // "llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'x'"
  const reason = llamaError?.split(": ").filter((part, i, all) => i === all.length - 1 || !/^(llama_\w+|error loading model)$/.test(part)).join(": ");
  const text = reason && !message.includes(reason) ? `${message}: ${reason}` : message;
  return text.split(modelPath).join(basename(modelPath));
}
