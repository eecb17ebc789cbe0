import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { ModelInfo } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { OllamaModelList, OllamaShowResponse, OllamaVersion, type OllamaModel } from "../../../wire/ollama.ts";
import { mayUse, type Caller } from "../../auth.ts";
import { defaultsFor, type RouteDeps } from "../deps.ts";
import { modelFacts, NO_DETAILS, type ModelFacts } from "./modelFacts.ts";
import { ollamaError, ollamaModel, ollamaName } from "./names.ts";
import { OllamaModelRequest } from "./schema.ts";

/**
 * The Ollama version whose API these routes follow (`think` levels, `tool_name`, `/api/embed`'s
 * `dimensions`): what GET /api/version answers, for clients that check it before using a feature.
 */
export const OLLAMA_API_VERSION = "0.12.0";
/** /api/ps's `expires_at` for a model with no unload time (serving, pinned, or kept loaded). */
const NO_EXPIRY = "9999-12-31T23:59:59Z";

/**
 * GET /api/tags, GET /api/ps, POST /api/show, DELETE /api/delete and GET /api/version over
 * Hearth's models. A key limited to some models sees only the names it may use, as on /v1/models.
 */
export function ollamaModelRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const config = { errorShape: ollamaError };
  // Every name of a model the caller may use (its id and aliases), each listed as Ollama lists the tags of one model.
  // A deleted model is listed by the router until it has unloaded; it no longer resolves.
  const listed = (caller: Caller, models: ModelInfo[], shape: (m: ModelInfo, entry: OllamaModel) => OllamaModel = (_m, e) => e) => Promise.all(models
    .filter((m) => deps.router.resolveId(m.id) === m.id)
    .flatMap((m) => [m.id, ...(m.aliases ?? [])].filter((name) => mayUse(caller, name, m.id)).map(async (name) => shape(m, await entry(deps, m, name)))));
  typed.get("/api/tags", { schema: { response: { 200: OllamaModelList } }, config }, async (request) => ({ models: await listed(request.caller, deps.router.models()) }));
  typed.get("/api/ps", { schema: { response: { 200: OllamaModelList } }, config }, async (request) => ({
    models: await listed(request.caller, deps.router.models().filter((m) => m.state === "loaded"), (m, e) => ({
      ...e, size: m.memoryBytes ?? m.memoryEstimateBytes ?? e.size, size_vram: 0,
      expires_at: m.unloadsAt !== undefined ? new Date(m.unloadsAt).toISOString() : NO_EXPIRY, context_length: m.contextSize,
    })),
  }));
  typed.post("/api/show", {
    schema: { body: OllamaModelRequest, response: { 200: OllamaShowResponse } }, serializerCompiler: () => JSON.stringify,
    config: { ...config, model: ollamaModel(deps.router) },
  }, async (request) => {
    const name = request.record.model!;
    const id = deps.router.resolveId(name);
    const info = deps.router.models().find((m) => m.id === id);
    if (!info) throw errors.modelNotFound(name);
    const facts = await factsOf(deps, info.id);
    const d = defaultsFor(deps, name);
    const parameters = [["temperature", d.temperature], ["top_k", d.topK], ["top_p", d.topP], ["min_p", d.minP], ["num_predict", d.maxTokens], ["num_ctx", info.contextSize]]
      .filter(([, v]) => v !== undefined).map(([k, v]) => `${String(k).padEnd(30)} ${v}`).join("\n");
    return {
      // No paths: the file's location is the server's business.
      modelfile: `# Served by Hearth as '${info.id}'\nFROM ${info.id}\n${parameters.split("\n").map((l) => `PARAMETER ${l.replace(/\s+/, " ")}`).join("\n")}\n`,
      parameters, template: "", license: "", system: "",
      details: facts?.details ?? NO_DETAILS,
      model_info: facts?.metadata ?? {},
      capabilities: ["completion", "tools", ...(info.chat?.reasoning ? ["thinking"] : [])],
      modified_at: facts?.modifiedAt ?? new Date(info.created * 1000).toISOString(),
    };
  });
  // Ollama answers a deletion with an empty 200.
  app.delete("/api/delete", {
    schema: { body: OllamaModelRequest, response: { 200: Type.Null({ description: "An empty body." }) } },
    config: { ...config, access: "admin", model: ollamaModel(deps.router) },
  }, async (request, reply) => {
    const name = request.record.model!;
    if (deps.router.registry.resolve(name)) await deps.router.registry.delete(name);
    else if (deps.router.resolveId(name) !== undefined) throw errors.modelNotDeletable(name);
    else throw errors.modelNotFound(name);
    return reply.code(200).send();
  });
  typed.get("/api/version", { schema: { response: { 200: OllamaVersion } }, config }, async () => ({ version: OLLAMA_API_VERSION }));
}

async function factsOf(deps: RouteDeps, id: string): Promise<ModelFacts | null> {
  const path = deps.router.registry.resolve(id)?.path;
  // A file that cannot be read now (being replaced) is listed without its details rather than failing the list.
  return path ? modelFacts(path).catch(() => null) : null;
}

async function entry(deps: RouteDeps, m: ModelInfo, name: string): Promise<OllamaModel> {
  const facts = await factsOf(deps, m.id);
  return {
    name: ollamaName(name), model: ollamaName(name),
    modified_at: facts?.modifiedAt ?? new Date(m.created * 1000).toISOString(),
    size: facts?.sizeBytes ?? m.sizeBytes ?? 0, digest: facts?.digest ?? "", details: facts?.details ?? NO_DETAILS,
  };
}
