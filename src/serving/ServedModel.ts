import type { EngineEvent, GenerateRequest, ModelActivity, ModelInfo, ModelSnapshot, UpstreamStatus } from "../engine/types.ts";
import type { ModelDefaults } from "../models/registry/ModelRegistry.ts";

/**
 * One model as the router serves it, whatever serves it: a local model (a runner process, loaded on
 * demand within the memory budget) or an upstream model (OpenAI-compatible servers). The router
 * holds only these; what differs between the two stays inside their implementations.
 */
export interface ServedModel {
  readonly id: string;
  readonly aliases: readonly string[];
  /** Sampling defaults for requests to this model that set none (its config's `defaults:`). */
  readonly defaults: ModelDefaults;
  info(): ModelInfo;
  /** The engine contract's generate, for this model (the request's `model` is already its id). */
  generate(req: GenerateRequest, signal: AbortSignal): AsyncIterable<EngineEvent>;
  embed(inputs: (string | number[])[], signal?: AbortSignal): Promise<{ vectors: number[][]; promptTokens: number }>;
  tokenize(text: string, opts: { addSpecial: boolean; withPieces: boolean }): Promise<{ tokens: number[]; pieces?: string[] }>;
  detokenize(tokens: number[]): Promise<string>;
  /** Makes it ready to serve (a no-op where it always is); throws a HearthError if it cannot be. */
  load(): Promise<void>;
  /** Frees what it holds; refuses (HearthError) while it serves or cannot be unloaded. */
  unload(): Promise<void>;
  /** Live figures of a loaded model, from whatever runs it; null when it has none to give. */
  snapshot(): Promise<ModelSnapshot | null>;
  /** Its activity from state at hand (never a call into a runner); null when not loaded here. */
  activity(): ModelActivity | null;
  /** The servers it is served by, where other servers serve it. */
  upstreams?(): UpstreamStatus[];
  close(): Promise<void>;
}
