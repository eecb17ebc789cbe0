import { Type, type Static } from "typebox";
import { GenerationFields, LIMITS, Nullable } from "../common.ts";

/**
 * POST /v1/completions: one prompt, as text or as token ids.
 * https://platform.openai.com/docs/api-reference/completions/create
 */
export const CompletionRequest = Type.Object({
  ...GenerationFields,
  prompt: Type.Union([
    Type.String(),
    Type.Array(Type.String(), { minItems: 1, maxItems: 1 }),
    Type.Array(Type.Integer({ minimum: 0, maximum: 0x7fffffff }), { minItems: 1, maxItems: LIMITS.maxPromptTokenIds }),
  ]),
  echo: Nullable(Type.Boolean()),
  suffix: Nullable(Type.String()),
  /** Report each generated token's log probability with this many alternatives (0 to 5). */
  logprobs: Nullable(Type.Integer({ minimum: 0, maximum: LIMITS.maxCompletionLogprobs })),
  best_of: Nullable(Type.Integer({ minimum: 1, maximum: 1 })),
});

export type CompletionRequest = Static<typeof CompletionRequest>;
