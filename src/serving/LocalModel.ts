import { stat } from "node:fs/promises";
import { errors, HearthError } from "../errors.ts";
import { RunnerEngine, type RunnerEngineOptions } from "../engine/runner/RunnerEngine.ts";
import type { Embeddings, EngineEvent, GenerateRequest, ModelActivity, ModelInfo, ModelSnapshot, Prompt, PromptOptions, Ranking, Tokenized } from "../engine/types.ts";
import type { ExtraContext } from "../engine/runner/protocol.ts";
import type { ModelState } from "../wire/model.ts";
import { EstimateCache } from "../models/budget/EstimateCache.ts";
import { estimateMemoryInChild, type MemoryEstimate } from "../models/budget/estimateMemory.ts";
import type { ModelDefaults, ModelEntry } from "../models/registry/ModelRegistry.ts";
import type { BudgetHolder, MemoryBudget } from "./MemoryBudget.ts";
import type { ModelEvents } from "./ModelEvents.ts";
import type { ServedModel } from "./ServedModel.ts";

/** Runner settings every model gets unless its own entry says otherwise. */
export type RunnerDefaults = Omit<RunnerEngineOptions, "modelPath" | "modelId">;

export interface LocalModelOptions {
  entry: ModelEntry;
  runner: RunnerDefaults;
  /** Seconds an idle model stays loaded when neither it nor its last request says; negative: never. */
  keepAliveSeconds: number;
  budget: MemoryBudget;
  events: ModelEvents;
  log?: RunnerEngineOptions["log"];
  /** Whether the registry still lists this entry: a removed model is unloaded once idle. */
  listed: () => boolean;
  /** It was removed from the registry and holds nothing any more. */
  gone: () => void;
  /** Estimates kept from earlier runs (the data folder's), so that a known file loads without one. */
  estimates?: EstimateCache;
}

/**
 * A GGUF file served by a runner process of its own, loaded when a request needs it (once, however
 * many requests arrive together) within the memory budget, and unloaded after its keep-alive, to
 * make room for another, or when its file goes. States: available -> loading -> loaded ->
 * unloading -> available; failed when it could not be loaded (tried again once its file changes).
 */
export class LocalModel implements ServedModel, BudgetHolder {
  readonly entry: ModelEntry;
  readonly #o: LocalModelOptions;
  #state: ModelState = "available";
  #error: string | undefined;
  #runner: RunnerEngine | null = null;
  /** The load or unload under way; requests for the model wait for it. */
  #transition: Promise<void> | null = null;
  /** Requests for it, from arrival (loading included) to their final event. */
  #active = 0;
  #lastUsedMs = 0;
  /** The keep_alive its last request asked for. */
  #requestedKeepAlive: number | undefined;
  /** When the idle timer will unload it (epoch ms); null while it serves, or when it stays loaded. */
  #unloadsAtMs: number | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #estimate: { key: string; value: Promise<MemoryEstimate> } | undefined;
  /** The last estimate made, for the model list. */
  #estimated: MemoryEstimate | undefined;
  #reservedBytes = 0;
  /** The file (size and time) when loading failed: a changed file is tried again. */
  #failedKey: string | undefined;
  #sizeBytes: number | undefined;
  #memoryBytes: number | undefined;
  #loads = 0;
  /** The extra contexts (embedding, ranking) counted in reservedBytes, per runner: each is created on its call's first use. */
  readonly #extraCounted = new WeakMap<RunnerEngine, Set<ExtraContext>>();
  #closed = false;

  constructor(opts: LocalModelOptions) {
    this.entry = opts.entry;
    this.#o = opts;
    opts.budget.add(this);
    // The list shows size and memory estimate, and a file that is not a usable GGUF as failed, at once.
    this.#estimateMemory().catch(async (err: unknown) => {
      if (this.#state !== "available") return;
      this.#failedKey = await fileKey(this.entry.path);
      this.#setState("failed", reasonOf(err));
    });
  }

  get id(): string { return this.entry.id; }
  get aliases(): readonly string[] { return this.entry.aliases; }
  get defaults(): ModelDefaults { return this.entry.settings.defaults; }
  get pinned(): boolean { return this.entry.settings.pinned; }
  /** The runner serving it, while loaded. */
  get runner(): RunnerEngine | null { return this.#runner; }
  /** How many times it was loaded since the server started. */
  get loads(): number { return this.#loads; }
  get reservedBytes(): number { return this.#reservedBytes; }
  get lastUsedMs(): number { return this.#lastUsedMs; }
  get evictable(): boolean {
    return this.#state === "loaded" && this.#active === 0 && !this.pinned && !this.#transition;
  }

  async *generate(req: GenerateRequest, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    this.#active++;
    if (req.keepAliveSeconds !== undefined) this.#requestedKeepAlive = req.keepAliveSeconds;
    try {
      const runner = await this.#ensureLoaded();
      yield* runner.generate(req, signal);
    } finally {
      this.#release();
    }
  }

  embed(inputs: (string | number[])[], signal?: AbortSignal): Promise<Embeddings> {
    return this.#useExtra("embed", (runner) => runner.embed(inputs, signal));
  }

  rank(query: string, documents: string[], signal?: AbortSignal): Promise<Ranking> {
    return this.#useExtra("rank", (runner) => runner.rank(query, documents, signal));
  }

  // The runner's own answers, once it is loaded.
  tokenize(text: string, opts: { addSpecial: boolean; withPieces: boolean }): Promise<Tokenized> { return this.#use((r) => r.tokenize(text, opts)); }
  detokenize(tokens: number[]): Promise<string> { return this.#use((r) => r.detokenize(tokens)); }
  countTokens(prompt: Prompt, options?: PromptOptions): Promise<number> { return this.#use((r) => r.countTokens(prompt, options)); }

  /** Loads it (a no-op if loaded); throws insufficient_memory or model_load_failed. `keepAliveSeconds`: how long it then stays loaded once idle, as a request's keep_alive says. */
  async load(keepAliveSeconds?: number): Promise<void> {
    if (keepAliveSeconds !== undefined) this.#requestedKeepAlive = keepAliveSeconds;
    await this.#use(async () => {});
  }

  /** Loads a pinned model at start; one that does not fit the budget is failed, not "loading" forever. */
  async loadPinned(): Promise<void> {
    await this.load().catch((err: unknown) => {
      if (this.#state === "available") this.#setState("failed", reasonOf(err));
    });
  }

  /** Unloads it now; refuses while it is loading or serving. */
  async unload(): Promise<void> {
    if (this.#state === "loading" || this.#active > 0) throw errors.modelInUse(this.id, this.#state, this.#active);
    if (this.#state === "loaded") await this.#unload();
    else await this.#transition;
  }

  evict(): Promise<void> {
    return this.#unload();
  }

  async snapshot(): Promise<ModelSnapshot | null> {
    if (this.#state !== "loaded" || !this.#runner) return null;
    const s = await this.#runner.snapshot();
    if (s?.rssBytes) this.#memoryBytes = s.rssBytes;
    return s ?? null;
  }

  activity(): ModelActivity | null {
    return this.#state === "loaded" && this.#runner ? this.#runner.activity() : null;
  }

  /** The registry no longer lists it: unloaded now if idle, else once its requests are done. */
  removed(): void {
    if (this.#active > 0 || this.#transition) return; // #idle unloads it when its requests are done
    if (this.#state === "loaded") void this.#unload().then(() => this.#o.gone());
    else this.#o.gone();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    await this.#transition?.catch(() => {});
    await this.#runner?.close();
    this.#o.budget.delete(this);
  }

  info(): ModelInfo {
    // A loaded model whose runner is restarting after a crash, or gave up, says so.
    const runnerInfo = this.#state === "loaded" ? this.#runner?.info() : undefined;
    const state = runnerInfo && runnerInfo.state !== "loaded" ? runnerInfo.state : this.#state;
    const error = runnerInfo?.state === "failed" ? runnerInfo.error : this.#error;
    const est = this.#estimated;
    return {
      id: this.id,
      state,
      created: this.entry.created,
      contextSize: runnerInfo?.contextSize ?? est?.contextSize ?? this.#runnerOptions().contextSize,
      ...(error !== undefined && state === "failed" ? { error } : {}),
      aliases: this.entry.aliases,
      ...(this.#sizeBytes !== undefined ? { sizeBytes: this.#sizeBytes } : {}),
      ...(est ? { memoryEstimateBytes: est.totalBytes } : {}),
      ...(this.#state === "loaded" && this.#memoryBytes !== undefined ? { memoryBytes: this.#runner?.rssBytes || this.#memoryBytes } : {}),
      pinned: this.pinned,
      ...(runnerInfo?.chat ? { chat: runnerInfo.chat } : {}),
      ...(this.#unloadsAtMs !== null && this.#active === 0 ? { unloadsAt: this.#unloadsAtMs } : {}),
    };
  }

  /** One call on the runner: loaded on demand, not evicted meanwhile. */
  async #use<T>(work: (runner: RunnerEngine) => Promise<T>): Promise<T> {
    this.#active++;
    try {
      return await work(await this.#ensureLoaded());
    } finally {
      this.#release();
    }
  }

  /** A call that uses an extra llama.cpp context: once the runner has created it, what it took counts against the budget. */
  #useExtra<T>(call: ExtraContext, work: (runner: RunnerEngine) => Promise<T>): Promise<T> {
    return this.#use(async (runner) => {
      try {
        return await work(runner);
      } finally {
        const m = runner.extraMemory(call);
        const counted = this.#extraCounted.get(runner) ?? new Set<ExtraContext>();
        if (m && !counted.has(call) && this.#runner === runner && this.#reservedBytes > 0) {
          this.#extraCounted.set(runner, counted.add(call));
          this.#reservedBytes += Math.max(0, m.afterBytes - m.beforeBytes);
        }
      }
    });
  }

  async #ensureLoaded(): Promise<RunnerEngine> {
    for (;;) {
      if (this.#closed) throw errors.modelLoading(this.id);
      if (this.#state === "loaded" && this.#runner) {
        const runner = this.#runner.info();
        if (runner.state === "loaded") return this.#runner;
        if (runner.state === "loading") { // restarting after a crash: wait for it rather than refuse
          await this.#runner.load();
          continue;
        }
        // It crashed again and again: give its memory back and report why.
        this.#transition = (async () => {
          await this.#runner?.close();
          this.#runner = null;
          this.#reservedBytes = 0;
          await this.#fail(runner.error ?? "the runner process keeps crashing");
        })().finally(() => { this.#transition = null; });
        await this.#transition;
      }
      if (this.#transition) {
        await this.#transition.catch(() => {});
        continue;
      }
      if (this.#state === "failed" && this.#failedKey !== undefined && this.#failedKey === (await fileKey(this.entry.path))) {
        throw errors.modelLoadFailed(this.id, this.#error ?? "unknown error");
      }
      if (this.#transition) continue; // another request started it while this one looked at the file
      this.#transition = this.#load().finally(() => { this.#transition = null; });
      await this.#transition;
    }
  }

  async #load(): Promise<void> {
    const previous = this.#state;
    this.#setState("loading");
    let estimate: MemoryEstimate;
    try {
      estimate = await this.#estimateMemory();
    } catch (err) {
      return this.#fail(reasonOf(err));
    }
    try {
      await this.#o.budget.reserve(this, estimate.totalBytes, () => { this.#reservedBytes = estimate.totalBytes; });
    } catch (err) {
      this.#setState(previous === "failed" ? "failed" : "available", this.#error);
      throw err;
    }
    const runner = new RunnerEngine({ ...this.#runnerOptions(), contextSize: estimate.contextSize, ...(this.#o.log ? { log: this.#o.log } : {}) });
    this.#runner = runner;
    this.#loads++;
    await runner.load();
    const info = runner.info();
    if (info.state !== "loaded") {
      await runner.close();
      this.#runner = null;
      this.#reservedBytes = 0;
      return this.#fail(info.error ?? "the model did not load");
    }
    this.#memoryBytes = runner.loadMemory.afterBytes;
    this.#reservedBytes = Math.max(estimate.totalBytes, this.#memoryBytes);
    this.#failedKey = undefined;
    this.#setState("loaded");
    if (this.#active === 0) this.#idle();
  }

  async #fail(reason: string): Promise<never> {
    this.#failedKey = await fileKey(this.entry.path);
    this.#setState("failed", reason);
    this.#o.log?.("error", `model ${this.id} failed to load: ${reason}`);
    throw errors.modelLoadFailed(this.id, reason);
  }

  #unload(): Promise<void> {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    this.#unloadsAtMs = null;
    const runner = this.#runner;
    if (this.#state !== "loaded" || !runner) return this.#transition ?? Promise.resolve();
    this.#setState("unloading");
    this.#transition = (async () => {
      await runner.close();
      this.#runner = null;
      this.#reservedBytes = 0;
      this.#memoryBytes = undefined;
      this.#setState("available");
    })().finally(() => { this.#transition = null; });
    return this.#transition;
  }

  /** A request ended: when the model has none left, it stays loaded for its keep-alive, then goes. */
  #release(): void {
    this.#active--;
    this.#lastUsedMs = Date.now();
    if (this.#active === 0 && this.#state === "loaded") this.#idle();
  }

  #idle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    this.#unloadsAtMs = null;
    if (!this.#o.listed()) return void this.#unload().then(() => this.#o.gone());
    const keep = this.#requestedKeepAlive ?? this.entry.settings.keepAliveSeconds ?? this.#o.keepAliveSeconds;
    if (this.pinned || keep < 0) return;
    if (keep === 0) return void this.#unload();
    this.#unloadsAtMs = Date.now() + keep * 1000;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      this.#unloadsAtMs = null;
      if (this.#active === 0) void this.#unload();
    }, Math.min(keep * 1000, 2 ** 31 - 1));
    this.#idleTimer.unref();
  }

  /**
   * The estimate for the file as it is now, made once per version of it: the one started when the
   * model was listed (at server start, while the database opens) is the one a load waits for.
   */
  async #estimateMemory(): Promise<MemoryEstimate> {
    const key = await fileKey(this.entry.path);
    if (this.#estimate?.key !== key) {
      const value = this.#estimateFile(key);
      this.#estimate = { key, value };
      value.catch(() => { if (this.#estimate?.value === value) this.#estimate = undefined; });
    }
    return this.#estimate.value;
  }

  async #estimateFile(version: string): Promise<MemoryEstimate> {
    // The size is listed at once; the estimate takes a child process, one model after another.
    this.#sizeBytes = (await stat(this.entry.path)).size;
    const settings = this.#runnerOptions();
    const opts = { contextSize: settings.contextSize, slots: settings.slots, batchSize: settings.batchSize };
    const cache = this.#o.estimates;
    const key = EstimateCache.key(this.entry.path, version, opts);
    let value = cache?.get(key);
    if (!value) {
      value = await estimateMemoryInChild(this.entry.path, opts);
      cache?.set(key, value);
    }
    this.#estimated = value;
    return value;
  }

  #runnerOptions(): RunnerEngineOptions {
    const s = this.entry.settings;
    return {
      ...this.#o.runner,
      modelPath: this.entry.path,
      modelId: this.id,
      ...(s.contextSize !== undefined ? { contextSize: s.contextSize } : {}),
      ...(s.slots !== undefined ? { slots: s.slots } : {}),
      ...(s.threads !== undefined ? { threads: s.threads } : {}),
      ...(s.template ? { template: s.template } : {}),
    };
  }

  #setState(state: ModelState, error?: string): void {
    this.#state = state;
    this.#error = state === "failed" ? error : undefined;
    this.#o.events.publish({ type: "state", model: this.id, state, ...(this.#error ? { error: this.#error } : {}) });
  }
}

/** Identifies a version of a file: a model that failed is tried again once its file changes. */
async function fileKey(path: string): Promise<string> {
  try {
    const s = await stat(path);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

function reasonOf(err: unknown): string {
  if (HearthError.is(err)) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT") return "the model file does not exist";
  if (e.code === "EACCES") return "the model file cannot be read";
  return (e.message ?? String(err)).split("\n")[0]!;
}
