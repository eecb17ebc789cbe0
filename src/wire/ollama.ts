import { Type, type Static } from "typebox";

/**
 * Ollama's API objects (https://github.com/ollama/ollama/blob/main/docs/api.md), as Hearth sends
 * them on /api/*. Durations are nanoseconds; times are RFC 3339.
 */

/** A tool call in Ollama's shape: the arguments are an object, not JSON text. */
export const OllamaToolCall = Type.Object({
  function: Type.Object({ index: Type.Optional(Type.Integer()), name: Type.String(), arguments: Type.Record(Type.String(), Type.Unknown()) }),
});
export type OllamaToolCall = Static<typeof OllamaToolCall>;

export const OllamaMessage = Type.Object({
  role: Type.String(),
  content: Type.String(),
  /** A thinking model's reasoning, apart from the content. */
  thinking: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Type.Array(OllamaToolCall)),
});
export type OllamaMessage = Static<typeof OllamaMessage>;

/** Why a reply ended (`stop`, `length`), or what a request without a prompt did (`load`, `unload`). */
export const OllamaDoneReason = Type.Union([Type.Literal("stop"), Type.Literal("length"), Type.Literal("load"), Type.Literal("unload")]);
export type OllamaDoneReason = Static<typeof OllamaDoneReason>;

/** The last object's figures: only in the object with `done: true` of a reply that generated. */
const Statistics = {
  done_reason: Type.Optional(OllamaDoneReason),
  total_duration: Type.Optional(Type.Integer()),
  load_duration: Type.Optional(Type.Integer()),
  prompt_eval_count: Type.Optional(Type.Integer()),
  prompt_eval_duration: Type.Optional(Type.Integer()),
  eval_count: Type.Optional(Type.Integer()),
  eval_duration: Type.Optional(Type.Integer()),
};

/** POST /api/chat: the reply, or (streamed) each piece of it, the last with `done: true`. */
export const OllamaChatResponse = Type.Object({
  model: Type.String(),
  created_at: Type.String(),
  message: OllamaMessage,
  done: Type.Boolean(),
  ...Statistics,
});
export type OllamaChatResponse = Static<typeof OllamaChatResponse>;

/** POST /api/generate: the reply, or (streamed) each piece of it, the last with `done: true`. */
export const OllamaGenerateResponse = Type.Object({
  model: Type.String(),
  created_at: Type.String(),
  response: Type.String(),
  thinking: Type.Optional(Type.String()),
  done: Type.Boolean(),
  ...Statistics,
});
export type OllamaGenerateResponse = Static<typeof OllamaGenerateResponse>;

export const OllamaEmbedResponse = Type.Object({
  model: Type.String(),
  embeddings: Type.Array(Type.Array(Type.Number())),
  total_duration: Type.Integer(),
  load_duration: Type.Integer(),
  prompt_eval_count: Type.Integer(),
});
export type OllamaEmbedResponse = Static<typeof OllamaEmbedResponse>;

/** The older POST /api/embeddings: one vector. */
export const OllamaEmbeddingsResponse = Type.Object({ embedding: Type.Array(Type.Number()) });

export const OllamaModelDetails = Type.Object({
  parent_model: Type.String(),
  format: Type.String(),
  family: Type.String(),
  families: Type.Array(Type.String()),
  parameter_size: Type.String(),
  quantization_level: Type.String(),
});
export type OllamaModelDetails = Static<typeof OllamaModelDetails>;

/** One model of GET /api/tags (and, with `expires_at` and `size_vram`, of GET /api/ps). */
export const OllamaModel = Type.Object({
  name: Type.String(),
  model: Type.String(),
  modified_at: Type.String(),
  size: Type.Integer(),
  digest: Type.String(),
  details: OllamaModelDetails,
  expires_at: Type.Optional(Type.String()),
  size_vram: Type.Optional(Type.Integer()),
  context_length: Type.Optional(Type.Integer()),
});
export type OllamaModel = Static<typeof OllamaModel>;

export const OllamaModelList = Type.Object({ models: Type.Array(OllamaModel) });
export type OllamaModelList = Static<typeof OllamaModelList>;

/** POST /api/show. */
export const OllamaShowResponse = Type.Object({
  modelfile: Type.String(),
  parameters: Type.String(),
  template: Type.String(),
  license: Type.String(),
  system: Type.String(),
  details: OllamaModelDetails,
  model_info: Type.Record(Type.String(), Type.Unknown()),
  capabilities: Type.Array(Type.String()),
  modified_at: Type.String(),
});
export type OllamaShowResponse = Static<typeof OllamaShowResponse>;

/** POST /api/pull, streamed: `pulling manifest`, then the download's progress, then `success`. */
export const OllamaProgress = Type.Object({
  status: Type.String(),
  digest: Type.Optional(Type.String()),
  total: Type.Optional(Type.Integer()),
  completed: Type.Optional(Type.Integer()),
});
export type OllamaProgress = Static<typeof OllamaProgress>;

export const OllamaStatus = Type.Object({ status: Type.String() });
export const OllamaVersion = Type.Object({ version: Type.String() });
/** Every error, and the last line of a stream that failed. */
export const OllamaError = Type.Object({ error: Type.String() });
