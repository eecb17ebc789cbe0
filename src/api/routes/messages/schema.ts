import { Type, type Static } from "typebox";
import { TOOL_LIMITS } from "../chat-completions/schema.ts";
import { GenerationFields, LIMITS, Nullable, StoredText } from "../common.ts";

/**
 * Anthropic's Messages API requests. Content blocks are checked loosely here (a type, and the
 * fields any block type may have) and block by block when converted (request.ts): a block Hearth
 * cannot use gets a 400 that says why, rather than ajv's "must match a schema in anyOf".
 * Fields Anthropic accepts that are not listed are accepted and ignored (`cache_control` included:
 * Hearth reuses prompt prefixes by itself); listed ones are validated.
 * https://docs.claude.com/en/api/messages
 */

/** Any content block, as far as validation goes; request.ts checks each type's fields. */
const Block = Type.Object({
  type: Type.String({ maxLength: 64 }),
  /** text */
  text: Type.Optional(Type.String()),
  /** thinking */
  thinking: Type.Optional(Type.String()),
  signature: Type.Optional(Type.String()),
  /** tool_use */
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  name: Type.Optional(Type.String({ maxLength: 256 })),
  input: Type.Optional(Type.Unknown()),
  /** tool_result: text, or text blocks */
  tool_use_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  content: Type.Optional(Type.Union([Type.String(), Type.Array(Type.Object({ type: Type.String({ maxLength: 64 }), text: Type.Optional(Type.String()) }), { maxItems: 1024 })])),
  is_error: Type.Optional(Type.Boolean()),
});
export type BlockInput = Static<typeof Block>;

const Content = Type.Union([Type.String(), Type.Array(Block, { maxItems: 1024 })]);

/** Anthropic's roles, and the system messages its newer API takes among them. */
const Message = Type.Object({
  role: Type.Enum(["user", "assistant", "system"]),
  content: Content,
});
export type MessageInput = Static<typeof Message>;

/**
 * A tool: Anthropic's custom tools (`input_schema`: the arguments' JSON schema, an object schema).
 * Anthropic's server tools (web search, code execution, ...) have a `type` and no schema: refused.
 */
const Tool = Type.Object({
  name: Type.String({ pattern: TOOL_LIMITS.namePattern, minLength: 1, maxLength: 64 }),
  description: Type.Optional(Type.String({ maxLength: 65536 })),
  input_schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  type: Nullable(Type.String({ maxLength: 64 })),
  /** Arguments always follow the schema, strict or not. */
  strict: Type.Optional(Type.Boolean()),
});

/**
 * `auto` (the default with tools): the model may call; `any`: at least one call of any tool;
 * `tool`: one call of the named tool; `none`: no call (the tools are left out of the prompt).
 * `disable_parallel_tool_use`: at most one call.
 */
const ToolChoice = Type.Object({
  type: Type.Enum(["auto", "any", "tool", "none"]),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  disable_parallel_tool_use: Type.Optional(Type.Boolean()),
});

/**
 * Thinking on a model that reasons (see docs/api.md for each family): `enabled` and `adaptive`
 * turn it on, `disabled` off (as far as the family can: gpt-oss always reasons, at low effort then).
 * `budget_tokens` is no hard cap (max_tokens is): on gpt-oss it picks the reasoning effort.
 * `display: omitted` sends thinking blocks without their text.
 */
const Thinking = Type.Object({
  type: Type.Enum(["enabled", "disabled", "adaptive"]),
  budget_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.maxTokens })),
  display: Nullable(Type.Enum(["summarized", "omitted"])),
});

/** `effort`: a reasoning model's effort (gpt-oss's; xhigh and max are its high); `format`: the answer is JSON following the schema. */
const OutputConfig = Type.Object({
  effort: Nullable(Type.Enum(["low", "medium", "high", "xhigh", "max"])),
  format: Nullable(Type.Object({ type: Type.Literal("json_schema"), schema: Type.Record(Type.String(), Type.Unknown()) })),
});

/** What decides the prompt: the fields of a generation and of a token count alike. */
const PromptFields = {
  model: StoredText({ minLength: 1, maxLength: 256 }),
  messages: Type.Array(Message, { minItems: 1, maxItems: LIMITS.maxMessages }),
  system: Type.Optional(Content),
  tools: Type.Optional(Type.Array(Tool, { maxItems: TOOL_LIMITS.maxTools })),
  tool_choice: Type.Optional(ToolChoice),
  thinking: Type.Optional(Thinking),
  output_config: Type.Optional(OutputConfig),
  /** Refused when set: Hearth has no code-execution containers, MCP connector, nor context editing. */
  container: Type.Optional(Type.Unknown()),
  mcp_servers: Type.Optional(Type.Unknown()),
  context_management: Type.Optional(Type.Unknown()),
};

/** POST /v1/messages. */
export const MessagesRequest = Type.Object({
  ...PromptFields,
  max_tokens: Type.Integer({ minimum: 1, maximum: LIMITS.maxTokens }),
  stop_sequences: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.maxStopLength }), { maxItems: LIMITS.maxStopSequences })),
  /** Anthropic's range. */
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** 0 disables it. */
  top_k: Type.Optional(Type.Integer({ minimum: 0, maximum: 1 << 20 })),
  /** `user_id`: the end user, for the usage log. */
  metadata: Type.Optional(Type.Object({ user_id: Nullable(StoredText({ maxLength: 512 })) })),
  stream: Type.Optional(Type.Boolean()),
  /** Not in Anthropic's API; llama-server's (as in Hearth's chat completions): a fixed seed makes sampling repeatable. */
  seed: GenerationFields.seed,
  /** Not in Anthropic's API; OpenAI's, as in Hearth's chat completions: token id -> bias. */
  logit_bias: GenerationFields.logit_bias,
});
export type MessagesRequest = Static<typeof MessagesRequest>;

/** POST /v1/messages/count_tokens: the prompt of a Messages request, without what only generation uses. */
export const CountTokensRequest = Type.Object(PromptFields);
export type CountTokensRequest = Static<typeof CountTokensRequest>;
