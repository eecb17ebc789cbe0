import type { FastifyInstance } from "fastify";
import type { ModelActivity } from "../../engine/types.ts";
import { CpuMeter } from "../../metrics/CpuMeter.ts";
import type { RouteDeps } from "./deps.ts";

/**
 * GET /health, usable as a readiness probe: 503 `{"status":"draining"}` once a shutdown began (the
 * requests under way still finish), 503 `{"status":"loading"}` while a pinned model (the
 * one given with --model, or `pinned: true`) is loading, 503 `{"status":"error"}` if one failed to
 * load, else 200 `{"status":"ok"}`. Models loaded on demand do not make the server unready; their
 * states are listed. Also memory used against the budget and CPU use.
 */
export function healthRoute(app: FastifyInstance, deps: RouteDeps): void {
  const cpu = new CpuMeter();
  app.get("/health", { config: { access: "open" } }, async (_request, reply) => {
    if (deps.draining?.()) return reply.status(503).send({ status: "draining" });
    const models = deps.router.models();
    const pinned = models.filter((m) => m.pinned);
    const failed = pinned.find((m) => m.state === "failed");
    if (failed) return reply.status(503).send({ status: "error", model: failed.id, error: failed.error });
    if (pinned.some((m) => m.state !== "loaded")) return reply.status(503).send({ status: "loading" });
    // From what this process knows, never a runner's answer: a runner busy for seconds (a huge
    // prompt being tokenized) must not make a readiness probe time out.
    const activity = deps.router.activity();
    const sum = (f: (m: ModelActivity) => number) => activity.reduce((n, m) => n + f(m), 0);
    const used = deps.router.usedBytes;
    return {
      status: "ok",
      queue_depth: sum((m) => Math.max(0, m.inFlight - m.slots)),
      slots_busy: sum((m) => Math.min(m.inFlight, m.slots)),
      slots_total: sum((m) => m.slots),
      memory: { used_bytes: used, budget_bytes: deps.router.budgetBytes, free_bytes: Math.max(0, deps.router.budgetBytes - used) },
      cpu: cpu.read(sum((m) => m.cpuSeconds)),
      models: models.map((m) => ({ id: m.id, state: m.state, memory_bytes: m.memoryBytes ?? null, ...(m.error ? { error: m.error } : {}) })),
    };
  });
}
