import { errors } from "../errors.ts";
import { trackRequest } from "../engine/trackRequest.ts";
import type { RunnerEngine } from "../engine/runner/RunnerEngine.ts";
import type { EngineEvent, EngineSnapshot, FinishedRequest, GenerateRequest, ModelInfo, ServingEngine } from "../engine/types.ts";

/**
 * The engine the HTTP layer sees: one contract over one engine per model, and the one place that
 * reports every request as it finishes.
 */
export class ModelRouter implements ServingEngine {
  readonly #engines: Map<string, RunnerEngine>;
  readonly #listeners = new Set<(r: FinishedRequest) => void>();

  constructor(engines: ReadonlyMap<string, RunnerEngine>) {
    this.#engines = new Map(engines);
  }

  /** The runner serving a model, while it has one. */
  runner(id: string): RunnerEngine | undefined {
    return this.#engines.get(id);
  }

  /** Loads a model; resolves when it is loaded or has failed to load. */
  async load(id: string): Promise<void> {
    const engine = this.#engines.get(id);
    if (!engine) throw errors.modelNotFound(id);
    await engine.load();
  }

  onFinished(listener: (r: FinishedRequest) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  generate(req: GenerateRequest, signal?: AbortSignal): AsyncIterable<EngineEvent> {
    return trackRequest((s) => {
      const engine = this.#engines.get(req.model);
      if (!engine) throw errors.modelNotFound(req.model);
      return engine.generate(req, s);
    }, req, signal, (r) => { for (const l of this.#listeners) l(r); });
  }

  models(): ModelInfo[] {
    return [...this.#engines.values()].flatMap((e) => e.models());
  }

  async snapshot(): Promise<EngineSnapshot> {
    const all = await Promise.all([...this.#engines.values()].map((e) => e.snapshot()));
    return { models: all.flatMap((s) => s.models) };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#engines.values()].map((e) => e.close()));
  }
}
