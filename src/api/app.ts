import { readFileSync } from "node:fs";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { ModelRouter } from "../models/ModelRouter.ts";
import { Metrics } from "../metrics/Metrics.ts";
import { registerErrorHandling, validationError } from "./errorHandler.ts";
import { chatCompletionsRoute } from "./routes/chat-completions/route.ts";
import type { InferenceDefaults } from "./routes/common.ts";
import { completionsRoute } from "./routes/completions/route.ts";
import { healthRoute } from "./routes/health.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { modelsRoute } from "./routes/models.ts";
import { pullRoute } from "./routes/pull.ts";
import { slotsRoute } from "./routes/slots.ts";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

export interface AppOptions {
  /** The engine the generation routes use, and the model management behind /v1/models. */
  router: ModelRouter;
  logger: Logger;
  bodyLimit: number;
  defaults: InferenceDefaults;
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaErrorFormatter: (errs) => validationError(errs),
  }) as unknown as FastifyInstance;
  // Clients like `curl -d` send bodies without a JSON Content-Type; llama-server reads them as JSON,
  // so do the same rather than answer 415.
  const json = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("*", { parseAs: "string" }, json);
  const metrics = new Metrics(opts.router, () => ({ usedBytes: opts.router.usedBytes, budgetBytes: opts.router.budgetBytes }));
  registerErrorHandling(app, opts.bodyLimit, metrics);
  app.addHook("onResponse", async (request, reply) => {
    const body = request.body as { model?: unknown } | undefined;
    metrics.response(request.routeOptions.url ?? "unmatched", metrics.modelLabel(body?.model), reply.statusCode);
  });
  // The request schemas that validate bodies also describe the API: GET /openapi.json.
  void app.register(swagger, { openapi: { info: { title: "Hearth", description: "OpenAI-compatible LLM server", version } } });
  const deps = { engine: opts.router, router: opts.router, metrics, defaults: opts.defaults, bodyLimit: opts.bodyLimit };
  // Routes go in a plugin registered after swagger, so that swagger sees them being added.
  void app.register(async (scope) => {
    chatCompletionsRoute(scope, deps);
    completionsRoute(scope, deps);
    modelsRoute(scope, deps);
    pullRoute(scope, deps);
    healthRoute(scope, deps);
    slotsRoute(scope, deps);
    metricsRoutes(scope, deps);
    scope.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  });
  return app;
}
