import type { FastifyInstance } from "fastify";
import type { RouteDeps } from "../deps.ts";
import { ollamaChatRoute } from "./chat.ts";
import { ollamaEmbedRoutes } from "./embed.ts";
import { ollamaGenerateRoute } from "./generate.ts";
import { ollamaModelRoutes } from "./models.ts";
import { ollamaPullRoute } from "./pull.ts";

/** The `listener` route constraint's value for requests that came in on the Ollama listener (see app.ts). */
export const OLLAMA_LISTENER = "ollama";

/**
 * Ollama's API (/api/*), a protocol adapter over Hearth's own paths: generation through
 * serveGeneration, embeddings through the router, models through the registry and the pull code.
 * Every route answers errors in Ollama's shape. On the Ollama listener only, GET and HEAD /
 * answer "Ollama is running", as clients probe it; on Hearth's own port / stays the web app.
 */
export function ollamaRoutes(app: FastifyInstance, deps: RouteDeps): void {
  ollamaChatRoute(app, deps);
  ollamaGenerateRoute(app, deps);
  ollamaEmbedRoutes(app, deps);
  ollamaModelRoutes(app, deps);
  ollamaPullRoute(app, deps);
  app.get("/", { constraints: { listener: OLLAMA_LISTENER }, config: { access: "open" }, schema: { hide: true } }, async (_request, reply) => reply.type("text/plain; charset=utf-8").send("Ollama is running"));
}
