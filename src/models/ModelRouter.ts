import { stat } from "node:fs/promises";
import { errors, HearthError } from "../errors.ts";
import { RunnerEngine, type RunnerEngineOptions } from "../engine/runner/RunnerEngine.ts";
import { trackRequest } from "../engine/trackRequest.ts";
import type { UpstreamModel } from "../engine/upstream/UpstreamModel.ts";
import type { EngineEvent, EngineSnapshot, FinishedRequest, GenerateRequest, ModelActivity, ModelInfo, ModelState, ServingEngine, UpstreamStatus } from "../engine/types.ts";
import { estimateMemoryInChild, type MemoryEstimate } from "./budget/estimateMemory.ts";
import { planEviction, type Resident } from "./budget/planEviction.ts";
import { ModelEvents } from "./ModelEvents.ts";
import type { ModelEntry, ModelRegistry, ModelSettings } from "./registry/ModelRegistry.ts";

/** Runner settings every model gets unless its own entry says otherwise. */
export type RunnerDefaults = Omit<RunnerEngineOptions, "modelPath" | "modelId">;

export interface ModelRouterOptions {
  registry: ModelRegistry;
  budgetBytes: number;
  /** Seconds an idle model stays loaded when neither it nor its last request says; negative: never. */
  keepAliveSeconds: number;
  runner: RunnerDefaults;
  log?: RunnerEngineOptions["log"];
  /** Models served by OpenAI-compatible servers instead of local runners. */
  upstreams?: readonly UpstreamModel[];
}

/** One model's life in this server. */
interface Handle {
  entry: ModelEntry;
  state: ModelState;
  error?: string;
  runner: RunnerEngine | null;
  /** The load or unload under way; requests for the model wait for it. */
  transition: Promise<void> | null;
  /** Requests for it, from arrival (loading included) to their final event. */
  active: number;
  lastUsedMs: number;
  /** The keep_alive its last request asked for. */
  keepAliveSeconds?: number;
  idleTimer: NodeJS.Timeout | null;
  estimate?: { key: string; value: MemoryEstimate };
  /** Counted against the budget: from the decision to load until it is unloaded. */
  reservedBytes: number;
  /** The file (size and time) when loading failed: a changed file is tried again. */
  failedKey?: string;
  sizeBytes?: number;
  memoryBytes?: number;
  loads: number;
  /** The runner whose embedding context is counted in reservedBytes (created on its first embed). */
  embeddingCounted?: RunnerEngine;
}

/**
 * The engine the HTTP layer sees: every model of the registry behind one contract. Loads a model
 * when a request needs it (once, however many requests arrive together), within a memory budget:
 * idle models are unloaded, least recently used first, to make room; models that are loading,
 * pinned or serving are never unloaded. Requests for other models keep flowing meanwhile. Also the
 * one place that reports every request as it finishes.
 */
export class ModelRouter implements ServingEngine {
  readonly events = new ModelEvents();
  readonly #o: ModelRouterOptions;
  readonly #handles = new Map<string, Handle>();
  readonly #listeners = new Set<(r: FinishedRequest) => void>();
  /** Upstream models by id and alias. */
  readonly #upstreams = new Map<string, UpstreamModel>();
  /** Load decisions are made one at a time, so two loads never count the same free memory. */
  #decisions: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(opts: ModelRouterOptions) {
    this.#o = opts;
    for (const u of opts.upstreams ?? []) for (const name of [u.id, ...u.aliases]) this.#upstreams.set(name, u);
    for (const entry of opts.registry.list()) this.#add(entry);
    opts.registry.on("added", (entry) => { this.#add(entry); this.events.publish({ type: "added", model: entry.id }); });
    opts.registry.on("removed", (entry) => this.#remove(entry));
  }

  get budgetBytes(): number { return this.#o.budgetBytes; }
  get registry(): ModelRegistry { return this.#o.registry; }

  /** Memory counted against the budget: models loaded, loading or being unloaded. */
  get usedBytes(): number {
    return [...this.#handles.values()].reduce((n, h) => n + h.reservedBytes, 0);
  }

  /** Loads the pinned models; resolves when each is loaded or has failed. */
  async start(): Promise<void> {
    await Promise.all([...this.#handles.values()].filter((h) => h.entry.settings.pinned).map((h) => this.load(h.entry.id).catch((err: unknown) => {
      // A pinned model that does not fit the budget is not coming: say so, rather than "loading" forever.
      if (h.state === "available") this.#setState(h, "failed", reasonOf(err));
    })));
  }

  onFinished(listener: (r: FinishedRequest) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The runner serving a model, while it is loaded. */
  runner(name: string): RunnerEngine | undefined {
    return this.#handle(name)?.runner ?? undefined;
  }

  /** How many times a model was loaded since the server started. */
  loadCount(name: string): number {
    return this.#handle(name)?.loads ?? 0;
  }

  /** The id of the model a name (id or alias) refers to. */
  resolveId(name: string): string | undefined {
    return this.#upstreams.get(name)?.id ?? this.#o.registry.resolve(name)?.id;
  }

  /** Sampling defaults of the model a name refers to. */
  defaultsFor(name: string): ModelSettings["defaults"] {
    return this.#handle(name)?.entry.settings.defaults ?? {};
  }

  /** Loads a model (a no-op if loaded); throws model_not_found, insufficient_memory or model_load_failed. */
  async load(name: string): Promise<ModelInfo> {
    const upstream = this.#upstreams.get(name);
    if (upstream) return upstream.info(); // always "loaded" where its servers are
    const h = this.#handle(name);
    if (!h) throw errors.modelNotFound(name);
    h.active++; // held while loading, so that it is not unloaded before anyone could use it
    try {
      await this.#ensureLoaded(h);
    } finally {
      this.#release(h);
    }
    return this.#info(h);
  }

  /** Unloads a model now; refuses while it is loading or serving. */
  async unload(name: string): Promise<ModelInfo> {
    if (this.#upstreams.has(name)) throw errors.invalidRequest(`The model '${name}' is served by upstream servers: there is nothing to unload here.`, "model");
    const h = this.#handle(name);
    if (!h) throw errors.modelNotFound(name);
    if (h.state === "loading" || h.active > 0) throw errors.modelInUse(h.entry.id, h.state, h.active);
    if (h.state === "loaded") await this.#unload(h);
    else await h.transition;
    return this.#info(h);
  }

  generate(req: GenerateRequest, signal?: AbortSignal): AsyncIterable<EngineEvent> {
    const upstream = this.#upstreams.get(req.model);
    if (upstream) {
      const routed = { ...req, model: upstream.id };
      return trackRequest((s) => upstream.generate(routed, s), routed, signal, (r) => { for (const l of this.#listeners) l(r); });
    }
    const h = this.#handle(req.model);
    const routed = h ? { ...req, model: h.entry.id } : req;
    return trackRequest((s) => this.#serve(h, routed, s), routed, signal, (r) => { for (const l of this.#listeners) l(r); });
  }

  /** Embeddings from a model (name or alias), loaded on demand; it counts as serving meanwhile. */
  embed(model: string, inputs: (string | number[])[], signal?: AbortSignal): Promise<{ vectors: number[][]; promptTokens: number }> {
    const upstream = this.#upstreams.get(model);
    if (upstream) return upstream.embed(inputs, signal);
    return this.#use(model, async (runner, id, h) => {
      try {
        return await runner.embed(id, inputs, signal);
      } finally {
        // The embedding context is a second llama.cpp context: count what it took against the budget.
        const m = runner.embeddingMemory;
        if (m && h.embeddingCounted !== runner && h.runner === runner && h.reservedBytes > 0) {
          h.embeddingCounted = runner;
          h.reservedBytes += Math.max(0, m.afterBytes - m.beforeBytes);
        }
      }
    });
  }

  tokenize(model: string, text: string, opts: { addSpecial: boolean; withPieces: boolean }): Promise<{ tokens: number[]; pieces?: string[] }> {
    if (this.#upstreams.has(model)) return Promise.reject(upstreamOnly(model));
    return this.#use(model, (runner, id) => runner.tokenize(id, text, opts));
  }

  detokenize(model: string, tokens: number[]): Promise<string> {
    if (this.#upstreams.has(model)) return Promise.reject(upstreamOnly(model));
    return this.#use(model, (runner, id) => runner.detokenize(id, tokens));
  }

  upstreams(): UpstreamStatus[] {
    return (this.#o.upstreams ?? []).flatMap((m) => m.pool.upstreams.map((u) => ({
      model: m.id, upstream: u.label, healthy: u.healthy, inFlight: u.inFlight, requests: u.requests, errors: u.errors,
    })));
  }

  models(): ModelInfo[] {
    return [...this.#handles.values()].map((h) => this.#info(h)).concat((this.#o.upstreams ?? []).map((u) => u.info()));
  }

  async snapshot(): Promise<EngineSnapshot> {
    const loaded = [...this.#handles.values()].filter((h) => h.state === "loaded" && h.runner);
    const snaps = await Promise.all(loaded.map(async (h) => {
      const s = await h.runner!.snapshot();
      const rss = s.models[0]?.rssBytes;
      if (rss) h.memoryBytes = rss;
      return s.models;
    }));
    return { models: snaps.flat() };
  }

  activity(): ModelActivity[] {
    return [...this.#handles.values()].flatMap((h) => (h.state === "loaded" && h.runner ? h.runner.activity() : []));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const u of this.#o.upstreams ?? []) u.close();
    this.#o.registry.close();
    await Promise.all([...this.#handles.values()].map(async (h) => {
      if (h.idleTimer) clearTimeout(h.idleTimer);
      await h.transition?.catch(() => {});
      await h.runner?.close();
    }));
  }

  async *#serve(h: Handle | undefined, req: GenerateRequest, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    if (!h) throw errors.modelNotFound(req.model);
    h.active++;
    if (req.keepAliveSeconds !== undefined) h.keepAliveSeconds = req.keepAliveSeconds;
    try {
      const runner = await this.#ensureLoaded(h);
      yield* runner.generate(req, signal);
    } finally {
      this.#release(h);
    }
  }

  /** One call on a model's runner, as #serve does for generation: loaded on demand, not evicted meanwhile. */
  async #use<T>(name: string, work: (runner: RunnerEngine, id: string, h: Handle) => Promise<T>): Promise<T> {
    const h = this.#handle(name);
    if (!h) throw errors.modelNotFound(name);
    h.active++;
    try {
      const runner = await this.#ensureLoaded(h);
      return await work(runner, h.entry.id, h);
    } finally {
      this.#release(h);
    }
  }

  #handle(name: string): Handle | undefined {
    const entry = this.#o.registry.resolve(name);
    return entry ? this.#handles.get(entry.id) : undefined;
  }

  async #ensureLoaded(h: Handle): Promise<RunnerEngine> {
    for (;;) {
      if (this.#closed) throw errors.modelLoading(h.entry.id);
      if (h.state === "loaded" && h.runner) {
        const runner = h.runner.models()[0]!;
        if (runner.state === "loaded") return h.runner;
        if (runner.state === "loading") { // restarting after a crash: wait for it rather than refuse
          await h.runner.load();
          continue;
        }
        // It crashed again and again: give its memory back and report why.
        h.transition = (async () => {
          await h.runner?.close();
          h.runner = null;
          h.reservedBytes = 0;
          await this.#fail(h, runner.error ?? "the runner process keeps crashing");
        })().finally(() => { h.transition = null; });
        await h.transition;
      }
      if (h.transition) {
        await h.transition.catch(() => {});
        continue;
      }
      if (h.state === "failed" && h.failedKey !== undefined && h.failedKey === (await fileKey(h.entry.path))) {
        throw errors.modelLoadFailed(h.entry.id, h.error ?? "unknown error");
      }
      if (h.transition) continue; // another request started it while this one looked at the file
      h.transition = this.#load(h).finally(() => { h.transition = null; });
      await h.transition;
    }
  }

  async #load(h: Handle): Promise<void> {
    const previous = h.state;
    this.#setState(h, "loading");
    let estimate: MemoryEstimate;
    try {
      estimate = await this.#estimate(h);
    } catch (err) {
      return this.#fail(h, reasonOf(err));
    }
    try {
      await this.#reserve(h, estimate.totalBytes);
    } catch (err) {
      this.#setState(h, previous === "failed" ? "failed" : "available", h.error);
      throw err;
    }
    const runner = new RunnerEngine({ ...this.#runnerOptions(h.entry), contextSize: estimate.contextSize, log: this.#o.log });
    h.runner = runner;
    h.loads++;
    await runner.load();
    const info = runner.models()[0]!;
    if (info.state !== "loaded") {
      await runner.close();
      h.runner = null;
      h.reservedBytes = 0;
      return this.#fail(h, info.error ?? "the model did not load");
    }
    h.memoryBytes = runner.loadMemory.afterBytes;
    h.reservedBytes = Math.max(estimate.totalBytes, h.memoryBytes);
    delete h.failedKey;
    this.#setState(h, "loaded");
    if (h.active === 0) this.#idle(h);
  }

  async #fail(h: Handle, reason: string): Promise<never> {
    h.failedKey = await fileKey(h.entry.path);
    this.#setState(h, "failed", reason);
    this.#o.log?.("error", `model ${h.entry.id} failed to load: ${reason}`);
    throw errors.modelLoadFailed(h.entry.id, reason);
  }

  /** Makes room for `bytes` more, unloading idle models if needed; throws insufficient_memory if it cannot. */
  #reserve(h: Handle, bytes: number): Promise<void> {
    const decision = this.#decisions.then(async () => {
      const residents: Resident[] = [...this.#handles.values()].filter((o) => o !== h && o.reservedBytes > 0).map((o) => ({
        id: o.entry.id,
        bytes: o.reservedBytes,
        evictable: o.state === "loaded" && o.active === 0 && !o.entry.settings.pinned && !o.transition,
        lastUsedMs: o.lastUsedMs,
      }));
      const plan = planEviction(this.#o.budgetBytes, residents, bytes);
      if (!plan.fits) throw errors.insufficientMemory(h.entry.id, bytes, plan.freeableBytes, this.#o.budgetBytes);
      h.reservedBytes = bytes;
      for (const id of plan.victims) this.#o.log?.("info", `unloading ${id} (idle) to make room for ${h.entry.id}`);
      await Promise.all(plan.victims.map((id) => this.#unload(this.#handles.get(id)!)));
    });
    this.#decisions = decision.catch(() => {});
    return decision;
  }

  #unload(h: Handle): Promise<void> {
    if (h.idleTimer) clearTimeout(h.idleTimer);
    h.idleTimer = null;
    const runner = h.runner;
    if (h.state !== "loaded" || !runner) return h.transition ?? Promise.resolve();
    this.#setState(h, "unloading");
    h.transition = (async () => {
      await runner.close();
      h.runner = null;
      h.reservedBytes = 0;
      delete h.memoryBytes;
      this.#setState(h, "available");
    })().finally(() => { h.transition = null; });
    return h.transition;
  }

  /** A request ended: when the model has none left, it stays loaded for its keep-alive, then goes. */
  #release(h: Handle): void {
    h.active--;
    h.lastUsedMs = Date.now();
    if (h.active === 0 && h.state === "loaded") this.#idle(h);
  }

  #idle(h: Handle): void {
    if (h.idleTimer) clearTimeout(h.idleTimer);
    h.idleTimer = null;
    if (this.#removed(h)) return void this.#unload(h);
    const keep = h.keepAliveSeconds ?? h.entry.settings.keepAliveSeconds ?? this.#o.keepAliveSeconds;
    if (h.entry.settings.pinned || keep < 0) return;
    if (keep === 0) return void this.#unload(h);
    h.idleTimer = setTimeout(() => {
      h.idleTimer = null;
      if (h.active === 0) void this.#unload(h);
    }, Math.min(keep * 1000, 2 ** 31 - 1));
    h.idleTimer.unref();
  }

  async #estimate(h: Handle): Promise<MemoryEstimate> {
    const key = await fileKey(h.entry.path);
    if (h.estimate?.key === key) return h.estimate.value;
    // The size is listed at once; the estimate takes a child process, one model after another.
    h.sizeBytes = (await stat(h.entry.path)).size;
    const settings = this.#runnerOptions(h.entry);
    const value = await estimateMemoryInChild(h.entry.path, { contextSize: settings.contextSize, slots: settings.slots, batchSize: settings.batchSize });
    h.estimate = { key, value };
    return value;
  }

  #runnerOptions(entry: ModelEntry): RunnerEngineOptions {
    const s = entry.settings;
    return {
      ...this.#o.runner,
      modelPath: entry.path,
      modelId: entry.id,
      ...(s.contextSize !== undefined ? { contextSize: s.contextSize } : {}),
      ...(s.slots !== undefined ? { slots: s.slots } : {}),
      ...(s.threads !== undefined ? { threads: s.threads } : {}),
    };
  }

  #add(entry: ModelEntry): void {
    if (this.#handles.has(entry.id)) return;
    const h: Handle = { entry, state: "available", runner: null, transition: null, active: 0, lastUsedMs: 0, idleTimer: null, reservedBytes: 0, loads: 0 };
    this.#handles.set(entry.id, h);
    // The list shows size and memory estimate, and a file that is not a usable GGUF as failed, at once.
    this.#estimate(h).catch(async (err: unknown) => {
      if (h.state !== "available") return;
      h.failedKey = await fileKey(h.entry.path);
      this.#setState(h, "failed", reasonOf(err));
    });
  }

  #remove(entry: ModelEntry): void {
    const h = this.#handles.get(entry.id);
    if (!h || h.entry !== entry) return;
    this.events.publish({ type: "removed", model: entry.id });
    if (h.active === 0 && !h.transition) {
      if (h.state === "loaded") void this.#unload(h).then(() => this.#forget(h));
      else this.#forget(h);
    }
    // Otherwise #idle unloads it once its requests are done.
  }

  #removed(h: Handle): boolean {
    return this.#o.registry.resolve(h.entry.id) !== h.entry;
  }

  #forget(h: Handle): void {
    if (this.#removed(h) && this.#handles.get(h.entry.id) === h) this.#handles.delete(h.entry.id);
  }

  #setState(h: Handle, state: ModelState, error?: string): void {
    h.state = state;
    if (state === "failed") h.error = error;
    else delete h.error;
    this.events.publish({ type: "state", model: h.entry.id, state, ...(h.error ? { error: h.error } : {}) });
  }

  #info(h: Handle): ModelInfo {
    // A loaded model whose runner is restarting after a crash, or gave up, says so.
    const runnerInfo = h.state === "loaded" ? h.runner?.models()[0] : undefined;
    const state = runnerInfo && runnerInfo.state !== "loaded" ? runnerInfo.state : h.state;
    const error = runnerInfo?.state === "failed" ? runnerInfo.error : h.error;
    const est = h.estimate?.value;
    return {
      id: h.entry.id,
      state,
      created: h.entry.created,
      contextSize: runnerInfo?.contextSize ?? est?.contextSize ?? this.#runnerOptions(h.entry).contextSize,
      ...(error !== undefined && state === "failed" ? { error } : {}),
      aliases: h.entry.aliases,
      ...(h.sizeBytes !== undefined ? { sizeBytes: h.sizeBytes } : {}),
      ...(est ? { memoryEstimateBytes: est.totalBytes } : {}),
      ...(h.state === "loaded" && h.memoryBytes !== undefined ? { memoryBytes: h.runner?.rssBytes || h.memoryBytes } : {}),
      pinned: h.entry.settings.pinned,
    };
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

function upstreamOnly(model: string) {
  return errors.unsupported(`The model '${model}' is served by upstream servers, which do not tokenize for Hearth.`, "model");
}
