import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "./deps.ts";

/**
 * GET /v1/slots (and /slots, as llama-server names it): each loaded model's slots, their state and
 * progress. `?model=id` narrows it to one model.
 */
export function slotsRoute(app: FastifyInstance, deps: RouteDeps): void {
  const handler = async (request: { query: unknown }) => {
    const only = (request.query as { model?: string }).model;
    const snap = await deps.router.snapshot();
    const models = snap.models.filter((m) => only === undefined || m.id === only);
    return {
      object: "list",
      queue_depth: models.reduce((n, m) => n + m.queued, 0),
      models: models.map((m) => ({
        model: m.id,
        queue_depth: m.queued,
        steps: {
          count: m.stats.steps,
          total_ms: Math.round(m.stats.stepMs),
          decoded_tokens: m.stats.decodedTokens,
          prompt_tokens: m.stats.promptTokens,
          cached_prompt_tokens: m.stats.cachedPromptTokens,
          state_copies: m.stats.stateCopies,
          copied_prompt_tokens: m.stats.copiedPromptTokens,
          state_copy_ms: Math.round(m.stats.stateCopyMs),
          prompt_cache: { entries: m.stats.promptCacheEntries ?? 0, bytes: m.stats.promptCacheBytes ?? 0, hits: m.stats.promptCacheHits ?? 0, hit_tokens: m.stats.promptCacheHitTokens ?? 0 },
        },
      })),
      data: models.flatMap((m) => m.slots.map((s) => ({
        model: m.id,
        id: s.id,
        state: s.state,
        request_id: s.requestId,
        prompt_tokens: s.promptTokens,
        cached_tokens: s.cachedTokens,
        prefilled_tokens: s.prefilledTokens,
        generated_tokens: s.generatedTokens,
      }))),
    };
  };
  const schema = { querystring: { type: "object", properties: { model: { type: "string", maxLength: 256 } } } };
  app.get("/v1/slots", { schema }, handler);
  app.get("/slots", { schema }, handler);
}
