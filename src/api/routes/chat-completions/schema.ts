import { Type, type Static } from "typebox";
import { GenerationFields, LIMITS, Nullable, StoredText } from "../common.ts";

const ContentPart = Type.Object({
  type: Type.String({ maxLength: 64 }),
  text: Type.Optional(Type.String()),
});

/** Caps on tool definitions; a JSON schema's own caps are in jsonSchema.ts (64 KB, 16 levels). */
export const TOOL_LIMITS = { maxTools: 128, namePattern: "^[a-zA-Z0-9_-]{1,64}$", maxToolCallsPerMessage: 128 } as const;

const FunctionName = Type.String({ pattern: TOOL_LIMITS.namePattern, minLength: 1, maxLength: 64 });
/** A JSON schema; checked against what the output grammar can enforce (see jsonSchema.ts). */
const JsonSchemaObject = Type.Record(Type.String(), Type.Unknown());

const ToolCallInput = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 256 }),
  type: Type.Literal("function"),
  function: Type.Object({ name: FunctionName, arguments: Type.String() }),
});

const Message = Type.Object({
  role: Type.Enum(["system", "developer", "user", "assistant", "tool"]),
  content: Nullable(Type.Union([Type.String(), Type.Array(ContentPart, { maxItems: 1024 })])),
  name: Nullable(Type.String({ maxLength: 256 })),
  /** Assistant messages: the tool calls the model made. */
  tool_calls: Nullable(Type.Array(ToolCallInput, { maxItems: TOOL_LIMITS.maxToolCallsPerMessage })),
  /** Assistant messages: the reasoning an earlier answer gave; the model's template decides whether it is kept. */
  reasoning_content: Nullable(Type.String()),
  /** Tool messages: the call this message answers. */
  tool_call_id: Nullable(Type.String({ minLength: 1, maxLength: 256 })),
});

const Tool = Type.Object({
  type: Type.Literal("function"),
  function: Type.Object({
    name: FunctionName,
    description: Nullable(Type.String({ maxLength: 65536 })),
    /** The arguments' JSON schema; an object schema. Absent: no arguments (`{}`). */
    parameters: Nullable(JsonSchemaObject),
    /** Arguments always follow the schema, strict or not. */
    strict: Nullable(Type.Boolean()),
  }),
});

/**
 * `none`: no tool is called; `auto`: the tools are described in the prompt; a call the model
 * starts in its template's syntax is grammar-constrained and returned as `tool_calls`; `required`: exactly one call to one of the tools,
 * grammar-constrained; a named function: exactly one call to it.
 */
const ToolChoice = Type.Union([
  Type.Enum(["none", "auto", "required"]),
  Type.Object({ type: Type.Literal("function"), function: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }) }),
]);

/** `text`; `json_object`: any JSON object; `json_schema`: JSON following the schema (always enforced). */
const ResponseFormatInput = Type.Union([
  Type.Object({ type: Type.Literal("text") }),
  Type.Object({ type: Type.Literal("json_object") }),
  Type.Object({
    type: Type.Literal("json_schema"),
    json_schema: Type.Object({
      name: FunctionName,
      description: Nullable(Type.String({ maxLength: 65536 })),
      schema: Nullable(JsonSchemaObject),
      strict: Nullable(Type.Boolean()),
    }),
  }),
]);

/**
 * POST /v1/chat/completions. Fields OpenAI accepts that are not listed are accepted and ignored;
 * listed ones are validated. https://platform.openai.com/docs/api-reference/chat/create
 */
export const ChatCompletionRequest = Type.Object({
  ...GenerationFields,
  messages: Type.Array(Message, { minItems: 1, maxItems: LIMITS.maxMessages }),
  max_completion_tokens: Nullable(Type.Integer({ minimum: 1, maximum: LIMITS.maxTokens })),
  tools: Nullable(Type.Array(Tool, { maxItems: TOOL_LIMITS.maxTools })),
  tool_choice: Nullable(ToolChoice),
  /** False: at most one call per reply. Otherwise `required` makes 1 or more, and `auto` as many as the model writes where its family allows several (Qwen). */
  parallel_tool_calls: Nullable(Type.Boolean()),
  response_format: Nullable(ResponseFormatInput),
  /** A reasoning model's effort (gpt-oss's `Reasoning:` line); given to other templates as `reasoning_effort`. */
  reasoning_effort: Nullable(Type.Enum(["minimal", "low", "medium", "high"])),
  /** Variables for the model's chat template, as llama-server and vLLM take them (Qwen3's `enable_thinking`). */
  chat_template_kwargs: Nullable(Type.Record(Type.String({ maxLength: 256 }), Type.Unknown(), { maxProperties: 64 })),
  /** Report each generated token's log probability. */
  logprobs: Nullable(Type.Boolean()),
  /** With `logprobs`: the most likely alternatives to report at each position, 0 to 20. */
  top_logprobs: Nullable(Type.Integer({ minimum: 0, maximum: LIMITS.maxTopLogprobs })),
  /**
   * Not in OpenAI's API: a Hearth conversation (`conv_...`, see /v1/conversations). Its system
   * prompt and messages go before `messages`; the new messages and the reply are added to it.
   */
  conversation: Nullable(StoredText({ minLength: 1, maxLength: 64 })),
});

export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>;
export type ChatMessageInput = Static<typeof Message>;
export type ToolInput = Static<typeof Tool>;
