import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "./deps.ts";

/**
 * GET /health: 503 `{"status":"loading"}` until every model is ready, 503 `{"status":"error"}` if
 * one failed to load, then 200 `{"status":"ok"}` with the queue depth and busy slots
 * (llama-server's semantics, usable as a readiness probe).
 */
export function healthRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.get("/health", async (_request, reply) => {
    const models = deps.engine.models();
    const failed = models.find((m) => m.status === "error");
    if (failed) return reply.status(503).send({ status: "error", model: failed.id, error: failed.error });
    if (models.some((m) => m.status === "loading")) return reply.status(503).send({ status: "loading" });
    const snap = await deps.engine.snapshot();
    return { status: "ok", queue_depth: snap.queued, slots_busy: snap.busySlots, slots_total: snap.slots.length };
  });
}
