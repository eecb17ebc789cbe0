import { availableParallelism } from "node:os";
import { basename } from "node:path";
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";
import { errors } from "../../errors.ts";
import { checkGgufFile } from "../../models/gguf/checkGgufFile.ts";
import { Scheduler } from "../../scheduler/Scheduler.ts";
import type { GenerateRequest, ModelSnapshot } from "../types.ts";
import { emptyStepStats } from "../stepStats.ts";
import { PromptBuilder } from "./PromptBuilder.ts";
import { StepLoop, type Outcome } from "./StepLoop.ts";

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
  gpu: "auto" | "cpu" | "cuda" | "vulkan";
  /** Receives llama.cpp's own log lines. */
  log?: (level: "debug" | "warn" | "error", message: string) => void;
}

interface Loaded {
  model: LlamaModel;
  context: LlamaContext;
  prompts: PromptBuilder;
  scheduler: Scheduler;
  loop: StepLoop;
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
  #loading: Promise<void> | undefined;
  /** llama.cpp's error lines: node-llama-cpp's own load error only says "Failed to load model". */
  readonly #llamaErrors: string[] = [];

  constructor(opts: LlamaCppEngineOptions) {
    this.#opts = opts;
  }

  /** CPU threads llama.cpp uses, once loaded. */
  get threads(): number { return this.#threads; }

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
    const built = loaded.prompts.build(req.prompt);
    const contextSize = loaded.context.contextSize;
    if (built.tokens.length + (req.maxTokens ?? 1) > contextSize) {
      throw errors.contextLengthExceeded(built.tokens.length, req.maxTokens, contextSize, req.prompt.kind === "chat" ? "messages" : "prompt");
    }
    this.#listeners.set(req.id, listener);
    try {
      loaded.loop.submit(req, built);
    } catch (err) {
      this.#listeners.delete(req.id);
      throw err;
    }
    return { promptTokens: built.tokens.length };
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
      await this.#loaded.context.dispose();
      await this.#loaded.model.dispose();
    }
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
    this.#llama = await getLlama({
      gpu: o.gpu === "cpu" ? false : o.gpu,
      build: "never",
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        const error = level === LlamaLogLevel.error || level === LlamaLogLevel.fatal;
        if (error && !this.#loaded && this.#llamaErrors.length < 32) this.#llamaErrors.push(message.trim());
        o.log?.(error ? "error" : level === LlamaLogLevel.warn ? "warn" : "debug", message.trimEnd());
      },
    });
    // ggml's worker threads spin: more threads than cores makes decoding many times slower.
    const threads = Math.min(o.threads ?? this.#llama.cpuMathCores, availableParallelism());
    this.#llama.maxThreads = threads;
    this.#threads = threads;
    await checkGgufFile(o.modelPath);
    const model = await this.#llama.loadModel({ modelPath: o.modelPath });
    try {
      const context = await model.createContext({
        contextSize: Math.min(o.contextSize, model.trainContextSize),
        sequences: o.slots,
        batchSize: o.batchSize,
        threads: { ideal: threads, min: threads },
      });
      const sequences = Array.from({ length: o.slots }, () => context.getSequence());
      const scheduler = new Scheduler({
        slots: o.slots, maxQueue: o.maxQueue, timeoutMs: o.timeoutMs, stepTokens: o.batchSize, minPrefixReuse: o.minPrefixReuse, now: () => performance.now(),
      });
      const endTokens = new Set([model.tokens.eos, model.tokens.eot].filter((t): t is Token => t != null));
      const loop = new StepLoop({ model, modelId: o.modelId, sequences, scheduler, timeoutMs: o.timeoutMs, endTokens, emit: (batch) => this.#emit(batch) });
      this.#loaded = { model, context, prompts: new PromptBuilder(model), scheduler, loop };
    } catch (err) {
      await model.dispose();
      throw err;
    }
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
