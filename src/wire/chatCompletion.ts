import { Type, type Static, type TSchema } from "typebox";

const OrNull = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The finish reasons a client sees; requests that end otherwise end with an error. */
export const OpenAIFinishReason = Type.Union([Type.Literal("stop"), Type.Literal("length"), Type.Literal("tool_calls")]);
export type OpenAIFinishReason = Static<typeof OpenAIFinishReason>;

export const CompletionUsage = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
  prompt_tokens_details: Type.Object({ cached_tokens: Type.Integer() }),
  /** On a model that reasons: the completion tokens spent reasoning. */
  completion_tokens_details: Type.Optional(Type.Object({ reasoning_tokens: Type.Integer() })),
});
export type CompletionUsage = Static<typeof CompletionUsage>;

/** llama-server's `timings` object, plus the time spent waiting for a slot. */
export const Timings = Type.Object({
  queue_ms: Type.Number(),
  cache_n: Type.Integer(),
  prompt_n: Type.Integer(),
  prompt_ms: Type.Number(),
  prompt_per_token_ms: OrNull(Type.Number()),
  prompt_per_second: OrNull(Type.Number()),
  predicted_n: Type.Integer(),
  predicted_ms: Type.Number(),
  predicted_per_token_ms: OrNull(Type.Number()),
  predicted_per_second: OrNull(Type.Number()),
});
export type Timings = Static<typeof Timings>;

const TokenLogprob = Type.Object({ token: Type.String(), logprob: Type.Number(), bytes: Type.Array(Type.Integer()) });
export const ChatLogprobs = Type.Object({
  content: Type.Array(Type.Object({ ...TokenLogprob.properties, top_logprobs: Type.Array(TokenLogprob) })),
  refusal: Type.Null(),
});
export type ChatLogprobs = Static<typeof ChatLogprobs>;

export const ToolCall = Type.Object({
  id: Type.String(),
  type: Type.Literal("function"),
  /** `arguments`: JSON text. */
  function: Type.Object({ name: Type.String(), arguments: Type.String() }),
});
export type ToolCall = Static<typeof ToolCall>;

/** What a chat.completion and its chunks start with. */
export const completionHead = <O extends string>(object: O) => ({
  id: Type.String(), object: Type.Literal(object), created: Type.Integer(), model: Type.String(), system_fingerprint: Type.Null(),
});

/** OpenAI's chat.completion object, as Hearth answers a request without `stream`. */
export const ChatCompletion = Type.Object({
  ...completionHead("chat.completion"),
  choices: Type.Array(Type.Object({
    index: Type.Integer(),
    message: Type.Object({
      role: Type.Literal("assistant"),
      /** Null with tool calls and no text. */
      content: OrNull(Type.String()),
      /** A thinking model's reasoning, apart from the answer (the field vLLM, llama-server and DeepSeek use). */
      reasoning_content: Type.Optional(Type.String()),
      refusal: Type.Null(),
      tool_calls: Type.Optional(Type.Array(ToolCall)),
    }),
    logprobs: OrNull(ChatLogprobs),
    finish_reason: OpenAIFinishReason,
  })),
  usage: CompletionUsage,
  timings: Timings,
});
export type ChatCompletion = Static<typeof ChatCompletion>;
