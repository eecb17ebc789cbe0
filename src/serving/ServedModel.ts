import type { Engine, ModelInfo, UpstreamStatus } from "../engine/types.ts";
import type { ModelDefaults } from "../models/registry/ModelRegistry.ts";

/**
 * One model as the router serves it, whatever serves it: a local model (a runner process, loaded on
 * demand within the memory budget) or an upstream model (OpenAI-compatible servers). The router
 * holds only these; what differs between the two stays inside their implementations. The engine
 * contract's requests carry the model's id (aliases already resolved).
 */
export interface ServedModel extends Engine {
  readonly id: string;
  readonly aliases: readonly string[];
  /** Sampling defaults for requests to this model that set none (its config's `defaults:`). */
  readonly defaults: ModelDefaults;
  info(): ModelInfo;
  /** Makes it ready to serve (a no-op where it always is); throws a HearthError if it cannot be. `keepAliveSeconds`: how long it then stays loaded once idle. */
  load(keepAliveSeconds?: number): Promise<void>;
  /** Frees what it holds; refuses (HearthError) while it serves or cannot be unloaded. */
  unload(): Promise<void>;
  /** The servers it is served by, where other servers serve it. */
  upstreams?(): UpstreamStatus[];
}
