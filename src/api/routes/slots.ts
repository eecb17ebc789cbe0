import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "./deps.ts";

/** GET /v1/slots (and /slots, as llama-server names it): each slot's state and progress. */
export function slotsRoute(app: FastifyInstance, deps: RouteDeps): void {
  const handler = async () => {
    const snap = await deps.engine.snapshot();
    return {
      object: "list",
      queue_depth: snap.queued,
      steps: {
        count: snap.stats.steps,
        total_ms: Math.round(snap.stats.stepMs),
        decoded_tokens: snap.stats.decodedTokens,
        prompt_tokens: snap.stats.promptTokens,
        cached_prompt_tokens: snap.stats.cachedPromptTokens,
      },
      data: snap.slots.map((s) => ({
        id: s.id,
        state: s.state,
        request_id: s.requestId,
        prompt_tokens: s.promptTokens,
        cached_tokens: s.cachedTokens,
        prefilled_tokens: s.prefilledTokens,
        generated_tokens: s.generatedTokens,
      })),
    };
  };
  app.get("/v1/slots", handler);
  app.get("/slots", handler);
}
