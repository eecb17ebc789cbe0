import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { chargeKey } from "../../generation.ts";
import { bodyModel, type RouteDeps } from "../deps.ts";
import { RerankRequest, RerankResponse } from "./schema.ts";

/**
 * POST /v1/rerank, in llama-server's shape (Jina's `usage.total_tokens`, Cohere's
 * `results[].relevance_score` and `document: {text}`): every document goes to the model's runner in
 * one call; the results come back best first, cut to `top_n`.
 */
export function rerankRoute(app: FastifyInstance, deps: RouteDeps): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const handler = (request: FastifyRequest<{ Body: RerankRequest }>, reply: FastifyReply) => serveRerank(deps, request, reply);
  // The response schema is for the OpenAPI document only: the answer is written with JSON.stringify.
  typed.post("/v1/rerank", { schema: { body: RerankRequest, response: { 200: RerankResponse } }, serializerCompiler: () => JSON.stringify, config: { model: bodyModel } }, handler);
  // llama-server's and Jina-style clients' path; the same route, left out of the OpenAPI document.
  typed.post("/rerank", { schema: { body: RerankRequest, hide: true }, config: { model: bodyModel } }, handler);
}

async function serveRerank(deps: RouteDeps, request: FastifyRequest<{ Body: RerankRequest }>, reply: FastifyReply): Promise<RerankResponse> {
  const body = request.body;
  const documents = body.documents.map((d) => (typeof d === "string" ? d : d.text));
  // Charged at about 4 characters a token, the query once per document; settled with the real count.
  const release = await chargeKey(deps, request, reply, documents.reduce((n, d) => n + Math.ceil((body.query.length + d.length) / 4) + 1, 0));
  // The client going away stops the work before the next document.
  const controller = new AbortController();
  reply.raw.once("close", () => { if (!reply.raw.writableEnded) controller.abort(); });
  let promptTokens = 0;
  let scores: number[];
  try {
    ({ scores, promptTokens } = await deps.router.rank(body.model, body.query, documents, controller.signal));
  } finally {
    await release(promptTokens);
  }
  request.record.answered = { usage: { promptTokens, completionTokens: 0, cachedPromptTokens: 0 }, cacheHit: false };
  // A stable sort: equal scores keep the documents' order.
  const ranked = scores.map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score).slice(0, body.top_n ?? documents.length);
  return {
    id: `rerank-${randomUUID().replaceAll("-", "")}`,
    model: body.model,
    object: "list",
    results: ranked.map(({ index, score }) => ({ index, relevance_score: score, ...(body.return_documents === true ? { document: { text: documents[index]! } } : {}) })),
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
