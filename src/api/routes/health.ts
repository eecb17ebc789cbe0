import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "./deps.ts";

/**
 * GET /health: 503 `{"status":"loading"}` while a model is loading, 503 `{"status":"error"}` if
 * one failed to load, then 200 `{"status":"ok"}` with the queue depth and busy slots
 * (llama-server's semantics, usable as a readiness probe).
 */
export function healthRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.get("/health", async (_request, reply) => {
    const models = deps.engine.models();
    const failed = models.find((m) => m.state === "failed");
    if (failed) return reply.status(503).send({ status: "error", model: failed.id, error: failed.error });
    if (models.some((m) => m.state === "loading" || m.state === "available")) return reply.status(503).send({ status: "loading" });
    const snap = await deps.engine.snapshot();
    const sum = (f: (m: (typeof snap.models)[number]) => number) => snap.models.reduce((n, m) => n + f(m), 0);
    return { status: "ok", queue_depth: sum((m) => m.queued), slots_busy: sum((m) => m.busySlots), slots_total: sum((m) => m.slots.length) };
  });
}
