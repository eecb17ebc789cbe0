import { Type, type Static } from "typebox";
import { GenerationFields, LIMITS, Nullable } from "../common.ts";

const ContentPart = Type.Object({
  type: Type.String({ maxLength: 64 }),
  text: Type.Optional(Type.String()),
});

const Message = Type.Object({
  role: Type.Enum(["system", "developer", "user", "assistant", "tool"]),
  content: Nullable(Type.Union([Type.String(), Type.Array(ContentPart, { maxItems: 1024 })])),
  name: Nullable(Type.String({ maxLength: 256 })),
});

/**
 * POST /v1/chat/completions. Fields OpenAI accepts that are not listed are accepted and ignored;
 * listed ones are validated. https://platform.openai.com/docs/api-reference/chat/create
 */
export const ChatCompletionRequest = Type.Object({
  ...GenerationFields,
  messages: Type.Array(Message, { minItems: 1, maxItems: LIMITS.maxMessages }),
  max_completion_tokens: Nullable(Type.Integer({ minimum: 1, maximum: LIMITS.maxTokens })),
  tools: Nullable(Type.Array(Type.Unknown())),
  response_format: Nullable(Type.Object({ type: Type.String() })),
  logprobs: Nullable(Type.Boolean()),
});

export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>;
export type ChatMessageInput = Static<typeof Message>;
