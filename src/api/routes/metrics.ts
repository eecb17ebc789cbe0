import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "./deps.ts";

/** GET /metrics (Prometheus text format) and GET /v1/stats (the same live figures as JSON). */
export function metricsRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get("/metrics", async (_request, reply) => {
    void reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  app.get("/v1/stats", async () => deps.metrics.stats());
}
