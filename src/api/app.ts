import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Engine } from "../engine/types.ts";
import { registerErrorHandling, validationError } from "./errorHandler.ts";
import { chatCompletionsRoute } from "./routes/chat-completions/route.ts";
import type { InferenceDefaults } from "./routes/common.ts";
import { completionsRoute } from "./routes/completions/route.ts";
import { healthRoute } from "./routes/health.ts";
import { modelsRoute } from "./routes/models.ts";

export interface AppOptions {
  engine: Engine;
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
  registerErrorHandling(app, opts.bodyLimit);
  const deps = { engine: opts.engine, defaults: opts.defaults, bodyLimit: opts.bodyLimit };
  chatCompletionsRoute(app, deps);
  completionsRoute(app, deps);
  modelsRoute(app, deps);
  healthRoute(app, deps);
  return app;
}
