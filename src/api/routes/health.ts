import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "./deps.ts";

/**
 * GET /health: 503 `{"status":"loading"}` until every model is ready, 503 `{"status":"error"}` if
 * one failed to load, then 200 `{"status":"ok"}` (llama-server's semantics, usable as a k8s probe).
 */
export function healthRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.get("/health", async (_request, reply) => {
    const models = deps.engine.models();
    const failed = models.find((m) => m.status === "error");
    if (failed) return reply.status(503).send({ status: "error", model: failed.id, error: failed.error });
    if (models.some((m) => m.status === "loading")) return reply.status(503).send({ status: "loading" });
    return { status: "ok" };
  });
}
