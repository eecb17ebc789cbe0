import type { FastifyRequest } from "fastify";
import type { ResponseCache } from "../../cache/ResponseCache.ts";
import type { GenerateRequest } from "../../engine/types.ts";
import type { RateLimiter } from "../../limits/types.ts";
import type { Metrics } from "../../metrics/Metrics.ts";
import type { ErrorReporter } from "../requestRecord.ts";
import type { ModelRouter } from "../../serving/ModelRouter.ts";
import type { ConversationStore } from "../../store/ConversationStore.ts";
import type { InferenceDefaults } from "./common.ts";

/** What the routes need from the server. */
export interface RouteDeps {
  /** The served models: generation, embeddings and tokens by model name, and their management (list, load, unload, events, pull). */
  router: ModelRouter;
  metrics: Metrics;
  /** Reports an error answering a request (see requestRecord.ts); the transport writes what it returns. */
  report: ErrorReporter;
  defaults: InferenceDefaults;
  bodyLimit: number;
  /** See respond.ts: a stream's unsent bytes before it is cut. */
  streamBufferBytes: number;
  limiter?: RateLimiter;
  cache?: ResponseCache;
  /** Cache sampled answers too (config cache.sampled). */
  cacheSampled: boolean;
  cacheTtlSeconds: number;
  /** The web app's conversations, which a chat request may continue. */
  conversations?: ConversationStore;
  /** Pulls may reach loopback, private and other non-public addresses. */
  pullAllowPrivateAddresses: boolean;
  /** A generation is handed to the engine (the usage log journals its start). */
  started?: (job: GenerateRequest) => void;
  /** True once a shutdown began (see /health). */
  draining?: () => boolean;
}

/** The defaults for a request to `model`: the model's own over the server's. */
export function defaultsFor(deps: RouteDeps, model: string): InferenceDefaults {
  return { ...deps.defaults, ...deps.router.defaultsFor(model) };
}

/** The model a request names in its (validated) body: what the permission step checks. */
export const bodyModel = (request: FastifyRequest) => (request.body as { model: string }).model;
