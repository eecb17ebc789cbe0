import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { chargeKey } from "../../generation.ts";
import { OllamaEmbeddingsResponse, OllamaEmbedResponse } from "../../../wire/ollama.ts";
import { keepAliveSeconds } from "../common.ts";
import type { RouteDeps } from "../deps.ts";
import { checkDimensions } from "../embeddings/route.ts";
import { clockFor } from "./chat.ts";
import { ollamaError, ollamaModel } from "./names.ts";
import { OllamaEmbeddingsRequest, OllamaEmbedRequest } from "./schema.ts";

/**
 * POST /api/embed (one input or several) and the older POST /api/embeddings (one prompt), through
 * the router's embed as /v1/embeddings: the key's limits, the usage log. `keep_alive` is how long the
 * model stays loaded afterwards, as on generation routes; `options` are accepted and not applied (an
 * embedding does not sample).
 */
export function ollamaEmbedRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const config = { model: ollamaModel(deps.router), errorShape: ollamaError };
  typed.post("/api/embed", { schema: { body: OllamaEmbedRequest, response: { 200: OllamaEmbedResponse } }, config }, async (request, reply) => {
    const body = request.body;
    const model = request.record.model!;
    const clock = clockFor(deps, model);
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    const fitted = body.truncate === false ? inputs : await truncated(deps, model, inputs);
    const { vectors, promptTokens } = await embed(deps, request, reply, model, fitted, body.keep_alive);
    checkDimensions(vectors, body.dimensions);
    const totalMs = performance.now() - clock.startedMs;
    return {
      model: body.model, embeddings: vectors, total_duration: Math.round(totalMs * 1e6),
      // The model's load is not timed apart from the embedding: all of it counts as loading when the model was not loaded.
      load_duration: clock.loading ? Math.round(totalMs * 1e6) : 0, prompt_eval_count: promptTokens,
    };
  });
  typed.post("/api/embeddings", { schema: { body: OllamaEmbeddingsRequest, response: { 200: OllamaEmbeddingsResponse } }, config }, async (request, reply) => {
    const { vectors } = await embed(deps, request, reply, request.record.model!, [request.body.prompt], request.body.keep_alive);
    return { embedding: vectors[0]! };
  });
}

/** The router's embed with the key's limits charged and the usage recorded, as /v1/embeddings does. */
async function embed(deps: RouteDeps, request: FastifyRequest, reply: FastifyReply, model: string, inputs: (string | number[])[], keepAlive: string | number | null | undefined) {
  // The keep-alive a load sets is the one the model's idle timer reads once the embedding is done.
  if (keepAlive != null) await deps.router.load(model, keepAliveSeconds(keepAlive));
  const release = await chargeKey(deps, request, reply, inputs.reduce((n, i) => n + (typeof i === "string" ? Math.ceil(i.length / 4) + 1 : i.length), 0));
  const controller = new AbortController();
  reply.raw.once("close", () => { if (!reply.raw.writableEnded) controller.abort(); });
  let promptTokens = 0;
  try {
    const result = await deps.router.embed(model, inputs, controller.signal);
    promptTokens = result.promptTokens;
    request.record.answered = { usage: { promptTokens, completionTokens: 0, cachedPromptTokens: 0 }, cacheHit: false };
    return result;
  } finally {
    await release(promptTokens);
  }
}

/**
 * Ollama's `truncate` (its default): an input longer than the model's context is cut to fit, as
 * token ids. Cut to the context of one slot, which the embedding context is never smaller than. A
 * token is at least one byte, so an input of no more bytes than that is never tokenized here.
 */
async function truncated(deps: RouteDeps, model: string, inputs: string[]): Promise<(string | number[])[]> {
  const id = deps.router.resolveId(model);
  const context = deps.router.models().find((m) => m.id === id)?.contextSize;
  if (context === undefined) return inputs;
  // Room for the BOS and EOS tokens the embedding adds, and the position llama.cpp keeps free.
  const limit = context - 3;
  return Promise.all(inputs.map(async (input) => {
    if (Buffer.byteLength(input) <= limit) return input;
    const { tokens } = await deps.router.tokenize(model, input, { addSpecial: false, withPieces: false });
    return tokens.length <= limit ? input : tokens.slice(0, limit);
  }));
}
