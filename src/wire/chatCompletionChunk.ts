import { Type, type Static } from "typebox";
import { ChatLogprobs, completionHead, CompletionUsage, OpenAIFinishReason, Timings } from "./chatCompletion.ts";

/** A tool call's first delta has its id, type and name; the next ones more of its arguments. */
const ToolCallDelta = Type.Object({
  index: Type.Integer(),
  id: Type.Optional(Type.String()),
  type: Type.Optional(Type.Literal("function")),
  function: Type.Object({ name: Type.Optional(Type.String()), arguments: Type.String() }),
});

export const ChatDelta = Type.Object({
  role: Type.Optional(Type.Literal("assistant")),
  content: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  reasoning_content: Type.Optional(Type.String()),
  refusal: Type.Optional(Type.Null()),
  tool_calls: Type.Optional(Type.Array(ToolCallDelta)),
});
export type ChatDelta = Static<typeof ChatDelta>;

/**
 * One chunk of a streamed chat completion, as SSE `data:` or a WebSocket message. A choice's last
 * chunk has its finish reason and timings; with `stream_options.include_usage`, every chunk has
 * `usage: null` but the last, whose `choices` is empty.
 */
export const ChatCompletionChunk = Type.Object({
  ...completionHead("chat.completion.chunk"),
  choices: Type.Array(Type.Object({
    index: Type.Integer(),
    delta: ChatDelta,
    logprobs: Type.Union([ChatLogprobs, Type.Null()]),
    finish_reason: Type.Union([OpenAIFinishReason, Type.Null()]),
  })),
  usage: Type.Optional(Type.Union([CompletionUsage, Type.Null()])),
  timings: Type.Optional(Timings),
});
export type ChatCompletionChunk = Static<typeof ChatCompletionChunk>;
