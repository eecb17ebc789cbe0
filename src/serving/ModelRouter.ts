import { errors } from "../errors.ts";
import { trackRequest } from "../engine/trackRequest.ts";
import type { Embeddings, EngineEvent, FinishedRequest, GenerateRequest, ModelActivity, ModelInfo, Prompt, PromptOptions, Ranking, ServerSnapshot, Tokenized, UpstreamStatus } from "../engine/types.ts";
import type { EstimateCache } from "../models/budget/EstimateCache.ts";
import type { ModelDefaults, ModelEntry, ModelRegistry } from "../models/registry/ModelRegistry.ts";
import { LocalModel, type RunnerDefaults } from "./LocalModel.ts";
import { MemoryBudget } from "./MemoryBudget.ts";
import { ModelEvents } from "./ModelEvents.ts";
import type { ServedModel } from "./ServedModel.ts";

export interface ModelRouterOptions {
  registry: ModelRegistry;
  budgetBytes: number;
  /** Seconds an idle model stays loaded when neither it nor its last request says; negative: never. */
  keepAliveSeconds: number;
  runner: RunnerDefaults;
  log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  /** Models not in the registry: served by OpenAI-compatible servers (or, in tests of the HTTP edge, a fake). */
  served?: readonly ServedModel[];
  /** Memory estimates kept from earlier runs. */
  estimates?: EstimateCache;
}

/**
 * What the HTTP layer sees of the models: names (ids and aliases) resolved to served models, local (the
 * registry's files, within one memory budget) or upstream, each behind the same interface. It
 * reports every request once, as it finishes. What a model does is its own business: loading,
 * eviction and keep-alive live in LocalModel and MemoryBudget, pools in UpstreamModel.
 */
export class ModelRouter {
  readonly events = new ModelEvents();
  readonly #o: ModelRouterOptions;
  readonly #budget: MemoryBudget;
  readonly #locals = new Map<string, LocalModel>();
  /** Models not in the registry, by id and alias. */
  readonly #served = new Map<string, ServedModel>();
  readonly #listeners = new Set<(r: FinishedRequest) => void>();

  constructor(opts: ModelRouterOptions) {
    this.#o = opts;
    this.#budget = new MemoryBudget(opts.budgetBytes, (message) => opts.log?.("info", message));
    for (const m of opts.served ?? []) for (const name of [m.id, ...m.aliases]) this.#served.set(name, m);
    for (const entry of opts.registry.list()) this.#add(entry);
    opts.registry.on("added", (entry) => { this.#add(entry); this.events.publish({ type: "added", model: entry.id }); });
    opts.registry.on("removed", (entry) => {
      const model = this.#locals.get(entry.id);
      if (model?.entry !== entry) return;
      this.events.publish({ type: "removed", model: entry.id });
      model.removed();
    });
  }

  get budgetBytes(): number { return this.#budget.totalBytes; }
  get registry(): ModelRegistry { return this.#o.registry; }
  /** Memory counted against the budget: models loaded, loading or being unloaded. */
  get usedBytes(): number { return this.#budget.usedBytes; }

  /** Loads the pinned models; resolves when each is loaded or has failed. */
  async start(): Promise<void> {
    await Promise.all([...this.#locals.values()].filter((m) => m.pinned).map((m) => m.loadPinned()));
  }

  onFinished(listener: (r: FinishedRequest) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The runner serving a local model, while it is loaded (tests and benchmarks look inside). */
  runner(name: string) {
    return this.#local(name)?.runner ?? undefined;
  }

  /** How many times a local model was loaded since the server started. */
  loadCount(name: string): number {
    return this.#local(name)?.loads ?? 0;
  }

  /** The id of the model a name (id or alias) refers to. */
  resolveId(name: string): string | undefined {
    return this.#resolve(name)?.id;
  }

  /** Sampling defaults of the model a name refers to. */
  defaultsFor(name: string): ModelDefaults {
    return this.#resolve(name)?.defaults ?? {};
  }

  /** Loads a model (a no-op if loaded); throws model_not_found, insufficient_memory or model_load_failed. */
  async load(name: string, keepAliveSeconds?: number): Promise<ModelInfo> {
    const model = this.#model(name);
    await model.load(keepAliveSeconds);
    return model.info();
  }

  /** Unloads a model now; refuses while it is loading or serving. */
  async unload(name: string): Promise<ModelInfo> {
    const model = this.#model(name);
    await model.unload();
    return model.info();
  }

  generate(req: GenerateRequest, signal?: AbortSignal): AsyncIterable<EngineEvent> {
    const model = this.#resolve(req.model);
    const routed = model ? { ...req, model: model.id } : req;
    const report = (r: FinishedRequest) => { for (const l of this.#listeners) l(r); };
    return trackRequest((s) => (model ? model.generate(routed, s) : notFound(req.model)), routed, signal, report);
  }

  /** Embeddings from a model (name or alias), loaded on demand. */
  async embed(model: string, inputs: (string | number[])[], signal?: AbortSignal): Promise<Embeddings> {
    return this.#model(model).embed(inputs, signal);
  }

  /** Relevance scores of documents for a query, from a reranker (name or alias), loaded on demand. */
  async rank(model: string, query: string, documents: string[], signal?: AbortSignal): Promise<Ranking> {
    return this.#model(model).rank(query, documents, signal);
  }

  async tokenize(model: string, text: string, opts: { addSpecial: boolean; withPieces: boolean }): Promise<Tokenized> {
    return this.#model(model).tokenize(text, opts);
  }

  async detokenize(model: string, tokens: number[]): Promise<string> {
    return this.#model(model).detokenize(tokens);
  }

  /** The prompt tokens a generation of this prompt on a model (name or alias) would evaluate, loading it on demand. */
  async countTokens(model: string, prompt: Prompt, options?: PromptOptions): Promise<number> {
    return this.#model(model).countTokens(prompt, options);
  }

  upstreams(): UpstreamStatus[] {
    return (this.#o.served ?? []).flatMap((m) => m.upstreams?.() ?? []);
  }

  models(): ModelInfo[] {
    return this.#all().map((m) => m.info());
  }

  async snapshot(): Promise<ServerSnapshot> {
    const snaps = await Promise.all(this.#all().map((m) => m.snapshot()));
    return { models: snaps.filter((s) => s !== null) };
  }

  activity(): ModelActivity[] {
    return this.#all().flatMap((m) => m.activity() ?? []);
  }

  async close(): Promise<void> {
    this.#o.registry.close();
    await Promise.all(this.#all().map((m) => m.close()));
  }

  #all(): ServedModel[] {
    return [...this.#locals.values(), ...(this.#o.served ?? [])];
  }

  #resolve(name: string): ServedModel | undefined {
    return this.#served.get(name) ?? this.#local(name);
  }

  #local(name: string): LocalModel | undefined {
    const entry = this.#o.registry.resolve(name);
    return entry ? this.#locals.get(entry.id) : undefined;
  }

  #model(name: string): ServedModel {
    const model = this.#resolve(name);
    if (!model) throw errors.modelNotFound(name);
    return model;
  }

  #add(entry: ModelEntry): void {
    if (this.#locals.get(entry.id)?.entry === entry) return;
    // A new file under an old name: the old model finishes its requests and unloads on its own.
    const model: LocalModel = new LocalModel({
      entry, runner: this.#o.runner, keepAliveSeconds: this.#o.keepAliveSeconds, budget: this.#budget, events: this.events,
      ...(this.#o.log ? { log: this.#o.log } : {}),
      ...(this.#o.estimates ? { estimates: this.#o.estimates } : {}),
      listed: () => this.#o.registry.resolve(entry.id) === entry,
      gone: () => {
        if (this.#locals.get(entry.id) === model) this.#locals.delete(entry.id);
        this.#budget.delete(model);
      },
    });
    this.#locals.set(entry.id, model);
  }
}

// eslint-disable-next-line require-yield
async function* notFound(name: string): AsyncGenerator<EngineEvent> {
  throw errors.modelNotFound(name);
}
