import { Type, type Static } from "typebox";
import { KeepAlive } from "../../../config/schema.ts";
import { TOOL_LIMITS } from "../chat-completions/schema.ts";
import { LIMITS, Nullable, StoredText } from "../common.ts";

/**
 * Ollama's request bodies (https://github.com/ollama/ollama/blob/main/docs/api.md). Fields Ollama
 * accepts that are not listed are accepted and ignored; listed ones are validated. Ollama's Go
 * server treats `null` as absent, so every optional field may be null.
 */

const ModelName = StoredText({ minLength: 1, maxLength: 256 });
const JsonSchemaObject = Type.Record(Type.String(), Type.Unknown());

/**
 * The Modelfile parameters a request may set. Sampling ones are applied; `num_ctx` is checked
 * against the loaded context (see options.ts); load-time and hardware ones (num_gpu, num_thread,
 * use_mmap, ...) and the repetition penalties Hearth's sampler does not have are ignored, as Ollama
 * ignores options it does not know. `mirostat` other than 0 is refused: it replaces the sampler.
 */
export const OllamaOptions = Type.Object({
  temperature: Nullable(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  top_k: Nullable(Type.Integer({ minimum: 0, maximum: 1 << 20 })),
  min_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  seed: Nullable(Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })),
  /** Tokens to generate; -1: no limit, -2: until the context is full (both: no limit here). */
  num_predict: Nullable(Type.Integer({ minimum: -2, maximum: LIMITS.maxTokens })),
  stop: Nullable(Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.maxStopLength }), { maxItems: LIMITS.maxStopSequences })),
  presence_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
  frequency_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
  num_ctx: Nullable(Type.Integer({ minimum: 1 })),
  mirostat: Nullable(Type.Integer({ minimum: 0, maximum: 2 })),
});
export type OllamaOptions = Static<typeof OllamaOptions>;

/** `json`: any JSON; an object: a JSON schema the answer follows (always enforced); "": none. */
const Format = Nullable(Type.Union([Type.Literal("json"), Type.Literal(""), JsonSchemaObject]));
/** true/false turns a thinking model's reasoning on or off; a level is gpt-oss's reasoning effort. */
const Think = Nullable(Type.Union([Type.Boolean(), Type.Enum(["low", "medium", "high"])]));
/** Images are refused (no model here has a vision projector); listed so that the refusal is clear. */
const Images = Nullable(Type.Array(Type.String(), { maxItems: 64 }));

const ToolCallInput = Type.Object({
  function: Type.Object({
    index: Nullable(Type.Integer({ minimum: 0 })),
    name: Type.String({ pattern: TOOL_LIMITS.namePattern, minLength: 1, maxLength: 64 }),
    arguments: Nullable(JsonSchemaObject),
  }),
});

const Message = Type.Object({
  role: Type.Enum(["system", "user", "assistant", "tool"]),
  content: Nullable(Type.String()),
  /** Assistant messages: the reasoning an earlier reply gave. */
  thinking: Nullable(Type.String()),
  images: Images,
  /** Assistant messages: the calls the model made. */
  tool_calls: Nullable(Type.Array(ToolCallInput, { maxItems: TOOL_LIMITS.maxToolCallsPerMessage })),
  /** Tool messages: the function whose result this is. */
  tool_name: Nullable(Type.String({ maxLength: 64 })),
});
export type OllamaMessageInput = Static<typeof Message>;

const Tool = Type.Object({
  type: Nullable(Type.Literal("function")),
  function: Type.Object({
    name: Type.String({ pattern: TOOL_LIMITS.namePattern, minLength: 1, maxLength: 64 }),
    description: Nullable(Type.String({ maxLength: 65536 })),
    parameters: Nullable(JsonSchemaObject),
  }),
});

/** What /api/chat and /api/generate share. */
const Generation = {
  model: ModelName,
  /** Ollama's default is a stream: only `false` answers with one object. */
  stream: Nullable(Type.Boolean()),
  format: Format,
  options: Nullable(OllamaOptions),
  keep_alive: Nullable(KeepAlive),
  think: Think,
};

/** POST /api/chat. No messages: the model is loaded (or, with keep_alive 0, unloaded). */
export const OllamaChatRequest = Type.Object({
  ...Generation,
  messages: Nullable(Type.Array(Message, { maxItems: LIMITS.maxMessages })),
  tools: Nullable(Type.Array(Tool, { maxItems: TOOL_LIMITS.maxTools })),
});
export type OllamaChatRequest = Static<typeof OllamaChatRequest>;

/** POST /api/generate. No prompt: the model is loaded (or, with keep_alive 0, unloaded). */
export const OllamaGenerateRequest = Type.Object({
  ...Generation,
  prompt: Nullable(Type.String()),
  system: Nullable(Type.String()),
  /** The prompt as text, without the chat template. */
  raw: Nullable(Type.Boolean()),
  /** Fill-in-the-middle: refused. */
  suffix: Nullable(Type.String()),
  /** A Go template replacing the model's: refused. */
  template: Nullable(Type.String()),
  /** Deprecated by Ollama: the tokens of an earlier reply. Never sent by Hearth, so refused when given. */
  context: Nullable(Type.Array(Type.Integer())),
  images: Images,
});
export type OllamaGenerateRequest = Static<typeof OllamaGenerateRequest>;

/** POST /api/embed. */
export const OllamaEmbedRequest = Type.Object({
  model: ModelName,
  input: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 2048 })]),
  /** Default true: an input longer than the context is cut to fit; false: it is refused. */
  truncate: Nullable(Type.Boolean()),
  dimensions: Nullable(Type.Integer({ minimum: 1 })),
  keep_alive: Nullable(KeepAlive),
  options: Nullable(OllamaOptions),
});
export type OllamaEmbedRequest = Static<typeof OllamaEmbedRequest>;

/** POST /api/embeddings (superseded by /api/embed). */
export const OllamaEmbeddingsRequest = Type.Object({
  model: ModelName,
  prompt: Type.String(),
  keep_alive: Nullable(KeepAlive),
  options: Nullable(OllamaOptions),
});

/** POST /api/show, DELETE /api/delete: Ollama's clients also send the older `name`. */
export const OllamaModelRequest = Type.Object({
  model: Nullable(ModelName),
  name: Nullable(ModelName),
  verbose: Nullable(Type.Boolean()),
});
export type OllamaModelRequest = Static<typeof OllamaModelRequest>;

/** POST /api/pull. */
export const OllamaPullRequest = Type.Object({
  model: Nullable(Type.String({ minLength: 1, maxLength: 4096 })),
  name: Nullable(Type.String({ minLength: 1, maxLength: 4096 })),
  insecure: Nullable(Type.Boolean()),
  stream: Nullable(Type.Boolean()),
});
export type OllamaPullRequest = Static<typeof OllamaPullRequest>;
