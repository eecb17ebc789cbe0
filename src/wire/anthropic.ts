import { Type, type Static, type TSchema } from "typebox";

/**
 * Anthropic's Messages API objects as Hearth sends them: the Message, its stream's events, token
 * counts and errors. Every field Anthropic's SDK types require is present: those Hearth has nothing
 * for (containers, server tools, diagnostics, service tiers, citations) are null.
 * https://docs.claude.com/en/api/messages
 */

const OrNull = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const AnthropicStopReason = Type.Union([Type.Literal("end_turn"), Type.Literal("max_tokens"), Type.Literal("stop_sequence"), Type.Literal("tool_use")]);
export type AnthropicStopReason = Static<typeof AnthropicStopReason>;

export const TextBlock = Type.Object({ type: Type.Literal("text"), text: Type.String(), citations: Type.Null() });
/**
 * `signature` is Anthropic's proof that Claude wrote the block; Hearth has no such proof to give and
 * does not check one it is sent back: always "".
 */
export const ThinkingBlock = Type.Object({ type: Type.Literal("thinking"), thinking: Type.String(), signature: Type.String() });
/** `input`: the call's arguments, parsed from the JSON the model wrote; `caller`: always the model itself. */
export const ToolUseBlock = Type.Object({
  type: Type.Literal("tool_use"), id: Type.String(), name: Type.String(), input: Type.Unknown(), caller: Type.Object({ type: Type.Literal("direct") }),
});
export const ContentBlock = Type.Union([ThinkingBlock, TextBlock, ToolUseBlock]);
export type ContentBlock = Static<typeof ContentBlock>;

/**
 * `input_tokens` are the prompt tokens evaluated, `cache_read_input_tokens` those whose KV state was
 * reused (their sum is the prompt, what count_tokens counts); Hearth never charges for writing a
 * cache: `cache_creation_input_tokens` is 0. `output_tokens_details.thinking_tokens` on a model that
 * reasons.
 */
export const AnthropicUsage = Type.Object({
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_creation_input_tokens: Type.Integer(),
  cache_read_input_tokens: Type.Integer(),
  cache_creation: Type.Null(),
  output_tokens_details: OrNull(Type.Object({ thinking_tokens: Type.Integer() })),
  server_tool_use: Type.Null(),
  service_tier: Type.Null(),
  inference_geo: Type.Null(),
  speed: Type.Null(),
});
export type AnthropicUsage = Static<typeof AnthropicUsage>;

/** A Message: `content` in order thinking, text, tool_use blocks; `stop_sequence` the stop string that ended it. */
export const AnthropicMessage = Type.Object({
  id: Type.String(),
  type: Type.Literal("message"),
  role: Type.Literal("assistant"),
  model: Type.String(),
  content: Type.Array(ContentBlock),
  /** Null only in a stream's message_start. */
  stop_reason: OrNull(AnthropicStopReason),
  stop_sequence: OrNull(Type.String()),
  stop_details: Type.Null(),
  container: Type.Null(),
  diagnostics: Type.Null(),
  usage: AnthropicUsage,
});
export type AnthropicMessage = Static<typeof AnthropicMessage>;

/** The usage in a stream's message_delta: totals for the whole message, which replace message_start's. */
export const MessageDeltaUsage = Type.Pick(AnthropicUsage, ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens_details", "server_tool_use"]);

const BlockDelta = Type.Union([
  Type.Object({ type: Type.Literal("text_delta"), text: Type.String() }),
  Type.Object({ type: Type.Literal("thinking_delta"), thinking: Type.String() }),
  Type.Object({ type: Type.Literal("input_json_delta"), partial_json: Type.String() }),
]);

/** Anthropic's error types, by HTTP status (see messages/errors.ts). */
export const AnthropicErrorType = Type.Enum([
  "invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large",
  "rate_limit_error", "api_error", "timeout_error", "overloaded_error",
]);
export type AnthropicErrorType = Static<typeof AnthropicErrorType>;

/** An error's body, and a stream's `error` event once the stream began. `request_id`: the request's id in Hearth's logs. */
export const AnthropicError = Type.Object({
  type: Type.Literal("error"),
  error: Type.Object({ type: AnthropicErrorType, message: Type.String() }),
  request_id: OrNull(Type.String()),
});
export type AnthropicError = Static<typeof AnthropicError>;

/**
 * One streamed event, as SSE named by its `type`: message_start, ping, then per content block in
 * order content_block_start, its deltas, content_block_stop; message_delta (the stop reason and
 * the usage), message_stop. An error after the stream began is an `error` event, the last.
 */
export const AnthropicStreamEvent = Type.Union([
  Type.Object({ type: Type.Literal("message_start"), message: AnthropicMessage }),
  Type.Object({ type: Type.Literal("ping") }),
  Type.Object({ type: Type.Literal("content_block_start"), index: Type.Integer(), content_block: ContentBlock }),
  Type.Object({ type: Type.Literal("content_block_delta"), index: Type.Integer(), delta: BlockDelta }),
  Type.Object({ type: Type.Literal("content_block_stop"), index: Type.Integer() }),
  Type.Object({
    type: Type.Literal("message_delta"),
    delta: Type.Object({ stop_reason: AnthropicStopReason, stop_sequence: OrNull(Type.String()), stop_details: Type.Null(), container: Type.Null() }),
    usage: MessageDeltaUsage,
  }),
  Type.Object({ type: Type.Literal("message_stop") }),
  AnthropicError,
]);
export type AnthropicStreamEvent = Static<typeof AnthropicStreamEvent>;

/** POST /v1/messages/count_tokens. */
export const MessageTokensCount = Type.Object({ input_tokens: Type.Integer() });
