import type { FastifyInstance } from "fastify";
import type { ModelInfo } from "../../engine/types.ts";
import { errors } from "../../errors.ts";
import type { RouteDeps } from "./deps.ts";

const modelJson = (m: ModelInfo) => ({ id: m.id, object: "model", created: m.created, owned_by: "hearth" });

/** GET /v1/models and /v1/models/{id}, as OpenAI lists them. */
export function modelsRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.get("/v1/models", async () => ({ object: "list", data: deps.engine.models().map(modelJson) }));
  app.get<{ Params: { id: string } }>("/v1/models/:id", async (request) => {
    const model = deps.engine.models().find((m) => m.id === request.params.id);
    if (!model) throw errors.modelNotFound(request.params.id);
    return modelJson(model);
  });
}
