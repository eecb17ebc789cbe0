import { Type, type Static } from "typebox";
import { LIMITS, Nullable, StoredText } from "../common.ts";

/** Caps documented in docs/api.md. */
export const EMBEDDING_LIMITS = {
  /** Inputs per request (OpenAI's cap). */
  maxInputs: 2048,
} as const;

const TokenId = Type.Integer({ minimum: 0, maximum: 0x7fffffff });

/**
 * POST /v1/embeddings: one input or a list of them, as text or as token ids. Emptiness and length
 * (each input at most the model's context) are checked by the engine, which knows the model.
 * https://platform.openai.com/docs/api-reference/embeddings/create
 */
export const EmbeddingRequest = Type.Object({
  model: StoredText({ minLength: 1, maxLength: 256 }),
  input: Type.Union([
    Type.String(),
    Type.Array(Type.String(), { minItems: 1, maxItems: EMBEDDING_LIMITS.maxInputs }),
    Type.Array(TokenId, { minItems: 1, maxItems: LIMITS.maxPromptTokenIds }),
    Type.Array(Type.Array(TokenId, { maxItems: LIMITS.maxPromptTokenIds }), { minItems: 1, maxItems: EMBEDDING_LIMITS.maxInputs }),
  ]),
  /** float (the default) or base64: the vector's little-endian float32 bytes. */
  encoding_format: Nullable(Type.Union([Type.Literal("float"), Type.Literal("base64")])),
  /** The models cannot truncate their vectors: only the model's own width is accepted. */
  dimensions: Nullable(Type.Integer({ minimum: 1 })),
  user: Nullable(StoredText({ maxLength: 512 })),
});

export type EmbeddingRequest = Static<typeof EmbeddingRequest>;
