import { Type, type Static } from "typebox";
import { Nullable, StoredText } from "../common.ts";

/** Caps documented in docs/api.md. */
export const RERANK_LIMITS = {
  /** Documents per request (Cohere's recommended most). */
  maxDocuments: 1000,
} as const;

/**
 * POST /v1/rerank (and /rerank): a query and the documents to score against it, in the shape
 * llama-server, Jina and Cohere take. A document is a string or Cohere's `{text}` object. Each
 * document with the query must fit the model's context, which the engine checks.
 * https://docs.cohere.com/reference/rerank, https://jina.ai/reranker/
 */
export const RerankRequest = Type.Object({
  model: StoredText({ minLength: 1, maxLength: 256 }),
  query: Type.String({ minLength: 1 }),
  documents: Type.Array(Type.Union([Type.String(), Type.Object({ text: Type.String() })]), { minItems: 1, maxItems: RERANK_LIMITS.maxDocuments }),
  /** The best this many results; all of them when absent or larger than the list. */
  top_n: Nullable(Type.Integer({ minimum: 1 })),
  /** Each result carries its document's text (`document: {text}`); false (Cohere's default) when absent. */
  return_documents: Nullable(Type.Boolean()),
});

export type RerankRequest = Static<typeof RerankRequest>;

/** The answer, for the OpenAPI document: results best first, cut to `top_n`. */
export const RerankResponse = Type.Object({
  id: Type.String(),
  model: Type.String(),
  object: Type.Literal("list"),
  results: Type.Array(Type.Object({
    /** The document's place in the request. */
    index: Type.Integer(),
    /** The model's probability (0 to 1) that the document is relevant to the query. */
    relevance_score: Type.Number(),
    /** With `return_documents: true`. */
    document: Type.Optional(Type.Object({ text: Type.String() })),
  })),
  /** Tokens evaluated: every document with the query, in the model's rerank template. */
  usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
});

export type RerankResponse = Static<typeof RerankResponse>;
