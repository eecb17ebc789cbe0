import { Type, type Static } from "typebox";
import { ChatCompletionRequest, TOOL_LIMITS } from "../chat-completions/schema.ts";
import { GenerationFields, LIMITS, Nullable, StoredText } from "../common.ts";

/** Caps on a Responses request (docs/api.md); a stored response keeps its whole conversation. */
export const RESPONSE_LIMITS = { maxItems: 4096, maxMetadataKeys: 16, maxMetadataValue: 512 } as const;

const FunctionName = Type.String({ pattern: TOOL_LIMITS.namePattern, minLength: 1, maxLength: 64 });
const JsonSchemaObject = Type.Record(Type.String(), Type.Unknown());
const Id = Type.String({ minLength: 1, maxLength: 256 });

/** A content part of an input message: text is read; images, files and audio are refused by name. */
const ContentPart = Type.Object({
  type: Type.String({ maxLength: 64 }),
  text: Type.Optional(Type.String()),
});

/**
 * One input item. Items are told apart by `type` (a message may leave it out), so one loose object
 * is validated here and each kind's fields are checked where it is mapped (input.ts), with the
 * item's path in the error.
 */
const InputItem = Type.Object({
  type: Type.Optional(Type.String({ maxLength: 64 })),
  /** Messages. */
  role: Type.Optional(Type.Enum(["system", "developer", "user", "assistant"])),
  content: Type.Optional(Type.Union([Type.String(), Type.Array(ContentPart, { maxItems: 1024 })])),
  id: Type.Optional(Id),
  status: Type.Optional(Type.String({ maxLength: 32 })),
  /** function_call and function_call_output. */
  call_id: Type.Optional(Id),
  name: Type.Optional(FunctionName),
  arguments: Type.Optional(Type.String()),
  output: Type.Optional(Type.Union([Type.String(), Type.Array(ContentPart, { maxItems: 1024 })])),
  /** reasoning: its text parts, and summaries (read as text where there is no content). */
  summary: Type.Optional(Type.Array(ContentPart, { maxItems: 1024 })),
});

const Tool = Type.Object({
  type: Type.String({ maxLength: 64 }),
  name: Type.Optional(FunctionName),
  description: Nullable(Type.String({ maxLength: 65536 })),
  parameters: Nullable(JsonSchemaObject),
  strict: Nullable(Type.Boolean()),
});

const ToolChoice = Type.Union([
  Type.Enum(["none", "auto", "required"]),
  Type.Object({ type: Type.String({ maxLength: 64 }), name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }),
]);

const TextFormat = Type.Union([
  Type.Object({ type: Type.Literal("text") }),
  Type.Object({ type: Type.Literal("json_object") }),
  Type.Object({
    type: Type.Literal("json_schema"),
    name: FunctionName,
    description: Nullable(Type.String({ maxLength: 65536 })),
    schema: JsonSchemaObject,
    strict: Nullable(Type.Boolean()),
  }),
]);

/** Stored with the response: at most 16 pairs of short text, as OpenAI allows. */
const Metadata = Type.Record(StoredText({ maxLength: 64 }), StoredText({ maxLength: RESPONSE_LIMITS.maxMetadataValue }), { maxProperties: RESPONSE_LIMITS.maxMetadataKeys });

/**
 * POST /v1/responses, as OpenAI's Responses API takes it (https://platform.openai.com/docs/api-reference/responses/create).
 * Fields it accepts that are not listed are accepted and ignored; listed ones that Hearth cannot
 * honour (`background`, hosted tools, `conversation`) are refused with a 400 rather than ignored.
 */
export const CreateResponseRequest = Type.Object({
  model: StoredText({ minLength: 1, maxLength: 256 }),
  input: Type.Union([Type.String(), Type.Array(InputItem, { maxItems: RESPONSE_LIMITS.maxItems })]),
  /** A system message before the input; not carried over to a response that continues this one. */
  instructions: Nullable(Type.String()),
  previous_response_id: Nullable(StoredText({ minLength: 1, maxLength: 64 })),
  /** Keep the response (and its conversation) for GET and previous_response_id; OpenAI's default is true. */
  store: Nullable(Type.Boolean()),
  metadata: Nullable(Metadata),
  tools: Nullable(Type.Array(Tool, { maxItems: TOOL_LIMITS.maxTools })),
  tool_choice: Nullable(ToolChoice),
  parallel_tool_calls: Nullable(Type.Boolean()),
  text: Nullable(Type.Object({ format: Nullable(TextFormat), verbosity: Nullable(Type.String({ maxLength: 16 })) })),
  reasoning: Nullable(Type.Object({ effort: Nullable(Type.Enum(["none", "minimal", "low", "medium", "high", "xhigh"])), summary: Nullable(Type.String({ maxLength: 16 })) })),
  max_output_tokens: Nullable(Type.Integer({ minimum: 1, maximum: LIMITS.maxTokens })),
  // Sampling as on chat completions (top_k, min_p and seed are not in OpenAI's API).
  temperature: GenerationFields.temperature,
  top_p: GenerationFields.top_p,
  top_k: GenerationFields.top_k,
  min_p: GenerationFields.min_p,
  seed: GenerationFields.seed,
  chat_template_kwargs: ChatCompletionRequest.properties.chat_template_kwargs,
  keep_alive: GenerationFields.keep_alive,
  stream: GenerationFields.stream,
  user: GenerationFields.user,
  truncation: Nullable(Type.Enum(["auto", "disabled"])),
  background: Nullable(Type.Boolean()),
  top_logprobs: Nullable(Type.Integer({ minimum: 0, maximum: LIMITS.maxTopLogprobs })),
  include: Nullable(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 32 })),
  conversation: Nullable(Type.Unknown()),
  prompt: Nullable(Type.Unknown()),
});

export type CreateResponseRequest = Static<typeof CreateResponseRequest>;
export type InputItem = Static<typeof InputItem>;

/** POST /v1/responses/input_tokens: the prompt a create request with these fields would evaluate. */
export const InputTokensRequest = Type.Object({
  model: StoredText({ minLength: 1, maxLength: 256 }),
  input: Nullable(CreateResponseRequest.properties.input),
  instructions: Nullable(Type.String()),
  previous_response_id: Nullable(StoredText({ minLength: 1, maxLength: 64 })),
  tools: Nullable(Type.Array(Tool, { maxItems: TOOL_LIMITS.maxTools })),
  tool_choice: Nullable(ToolChoice),
  parallel_tool_calls: Nullable(Type.Boolean()),
  text: Nullable(Type.Object({ format: Nullable(TextFormat) })),
  reasoning: Nullable(Type.Object({ effort: Nullable(Type.Enum(["none", "minimal", "low", "medium", "high", "xhigh"])) })),
  chat_template_kwargs: ChatCompletionRequest.properties.chat_template_kwargs,
});
export type InputTokensRequest = Static<typeof InputTokensRequest>;
