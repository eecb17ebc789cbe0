import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import type { ModelInfo } from "../../engine/types.ts";
import { errors } from "../../errors.ts";
import { Model, ModelList } from "../../wire/model.ts";
import { ModelEvent } from "../../wire/modelEvent.ts";
import { eventStream, sendEvent, startSse } from "../sse.ts";
import { mayUse, wantsPage, type Caller } from "../auth.ts";
import type { RouteDeps } from "./deps.ts";
import type { AppPage } from "./webApp.ts";

/** OpenAI's model object, plus where the model stands in this server. */
export const modelJson = (m: ModelInfo): Model => ({
  id: m.id,
  object: "model",
  created: m.created,
  owned_by: "hearth",
  state: m.state,
  ...(m.error !== undefined ? { error: m.error } : {}),
  aliases: m.aliases ?? [],
  pinned: m.pinned ?? false,
  context_length: m.contextSize,
  chat_template: m.chat ? { family: m.chat.family, wrapper: m.chat.wrapper, source: m.chat.source, reasoning: m.chat.reasoning } : null,
  size_bytes: m.sizeBytes ?? null,
  memory_estimate_bytes: m.memoryEstimateBytes ?? null,
  memory_bytes: m.memoryBytes ?? null,
});

const IdParams = { type: "object", properties: { id: { type: "string", minLength: 1, maxLength: 1024 } }, required: ["id"] } as const;

/**
 * GET /v1/models and /v1/models/{id}, as OpenAI lists them, with each model's state and memory;
 * POST /v1/models/{id}/load and /unload; GET /v1/models/events, state changes as SSE. A name is only
 * ever looked up among the models (ids and aliases), never used as a path.
 */
export function modelsRoute(app: FastifyInstance, deps: RouteDeps, appPage?: AppPage): void {
  // A key limited to some models sees only those, as if the others did not exist.
  const visible = (caller: Caller) => deps.router.models().filter((m) => mayUse(caller, m.id, m.id) || (m.aliases ?? []).some((a) => mayUse(caller, a, m.id)));
  const find = (caller: Caller, id: string) => {
    const model = visible(caller).find((m) => m.id === id || m.aliases?.includes(id));
    if (!model) throw errors.modelNotFound(id);
    return model;
  };
  const list = (caller: Caller): ModelList => ({ object: "list", data: visible(caller).map(modelJson) });
  app.get("/v1/models", { schema: { response: { 200: ModelList } } }, async (request) => list(request.caller));
  // The seeds' path; a browser opening it gets the web app's models page instead.
  app.get("/models", { config: { appPage: appPage !== undefined }, schema: { hide: true } }, async (request, reply) => appPage && wantsPage(request) ? appPage(request, reply) : list(request.caller));
  // The first event is the list; then each change.
  app.get("/v1/models/events", { schema: { response: { 200: { content: eventStream(Type.Union([ModelList, ModelEvent])) } } } }, async (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    startSse(res);
    // A HEAD has no body, and Node sends a bodiless response's headers only when it ends.
    if (request.method === "HEAD") return void res.end();
    const send = (event: string, data: object) => sendEvent(res, event, data);
    // First where every model stands, then each change as it happens.
    send("models", list(request.caller));
    const onEvent = (e: ModelEvent) => { if (mayUse(request.caller, e.model, e.model)) send(e.type, e); };
    deps.router.events.on("event", onEvent);
    const keepalive = setInterval(() => { if (!res.destroyed) res.write(": keepalive\n\n"); }, 15_000);
    request.raw.once("close", () => {
      clearInterval(keepalive);
      deps.router.events.off("event", onEvent);
    });
  });
  app.get<{ Params: { id: string } }>("/v1/models/:id", { schema: { params: IdParams, response: { 200: Model } } }, async (request) => modelJson(find(request.caller, request.params.id)));
  app.post<{ Params: { id: string } }>("/v1/models/:id/load", { config: { access: "admin" }, schema: { params: IdParams, response: { 200: Model } } }, async (request) => modelJson(await deps.router.load(request.params.id)));
  app.post<{ Params: { id: string } }>("/v1/models/:id/unload", { config: { access: "admin" }, schema: { params: IdParams, response: { 200: Model } } }, async (request) => modelJson(await deps.router.unload(request.params.id)));
}
