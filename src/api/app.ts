import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import swagger from "@fastify/swagger";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { ResponseCache } from "../cache/ResponseCache.ts";
import type { FinishedRequest } from "../engine/types.ts";
import type { RateLimiter } from "../limits/types.ts";
import { Metrics } from "../metrics/Metrics.ts";
import type { ModelRouter } from "../serving/ModelRouter.ts";
import type { KeyStore } from "../store/KeyStore.ts";
import type { UsageLog } from "../store/UsageLog.ts";
import type { UsageReportQuery } from "../store/usageReport.ts";
import type { UsageReportRow } from "../wire/usageReport.ts";
import { usageRowFromFinished, type UsageRow } from "../store/usageRow.ts";
import type { ConversationStore } from "../store/ConversationStore.ts";
import type { ResponseStore } from "../store/ResponseStore.ts";
import { registerAuth } from "./auth.ts";
import { registerBrowserGuard } from "./browserGuard.ts";
import { listenerConstraint } from "./listeners.ts";
import { errorReporter, registerRequestRecord } from "./requestRecord.ts";
import { clientError, registerErrorHandling, validationError } from "./errorHandler.ts";
import { adminRoutes } from "./routes/admin.ts";
import { chatCompletionsRoute } from "./routes/chat-completions/route.ts";
import { chatCompletionsWsRoute, chooseProtocol } from "./routes/chat-completions/ws.ts";
import { conversationsRoute } from "./routes/conversations.ts";
import { toStoredText, type InferenceDefaults } from "./routes/common.ts";
import { completionsRoute } from "./routes/completions/route.ts";
import { embeddingsRoute } from "./routes/embeddings/route.ts";
import { messagesRoutes } from "./routes/messages/route.ts";
import { rerankRoute } from "./routes/rerank/route.ts";
import type { RouteDeps } from "./routes/deps.ts";
import { healthRoute } from "./routes/health.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { modelsRoute } from "./routes/models.ts";
import { ollamaRoutes } from "./routes/ollama/routes.ts";
import { pullRoute } from "./routes/pull.ts";
import { responsesRoutes } from "./routes/responses/route.ts";
import { slotsRoute } from "./routes/slots.ts";
import { tokenizeRoutes } from "./routes/tokenize.ts";
import { usageRoute } from "./routes/usage.ts";
import { DEFAULT_WEB_ROOT, webAppRoutes } from "./routes/webApp.ts";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

export interface AppOptions {
  /** The engine the generation routes use, and the model management behind /v1/models. */
  router: ModelRouter;
  logger: Logger;
  bodyLimit: number;
  defaults: InferenceDefaults;
  auth: { mode: "none" | "required"; adminKey: string | undefined };
  keys: KeyStore;
  usage: { log: Pick<UsageLog, "started" | "record" | "written" | "pending" | "dropped" | "refused">; report: (q: UsageReportQuery) => Promise<UsageReportRow[]> };
  limiter: RateLimiter;
  cache: { store: ResponseCache; sampled: boolean; ttlSeconds: number } | undefined;
  /** The web app's conversations; without it, /v1/conversations is not served. */
  conversations?: ConversationStore;
  /** Responses kept with `store`; without it, /v1/responses is not served. */
  responses?: ResponseStore;
  /** What browsers may reach (see browserGuard.ts): the listen address (and a second listener's, by name), allowed Host names, CORS origins. */
  browser?: { listenHost: string; listenerHosts?: Readonly<Record<string, string>>; allowedHosts: readonly string[]; corsOrigins: readonly string[] };
  /** The web app's build folder. Defaults to web/dist in the package. */
  webRoot?: string;
  /** Connection limits in ms (config `http`); 0 turns request and connection timeouts off. */
  /** A stream's unsent bytes for a client that does not read, before the stream is cut (config `http.stream_buffer_bytes`). */
  streamBufferBytes?: number;
  timeouts?: { headersMs: number; requestMs: number; keepAliveMs: number; connectionMs: number };
  /** Serve HTTPS with this PEM certificate (chain) and private key. */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** True once a shutdown began: /health answers 503 `draining` so that balancers stop sending. */
  draining?: () => boolean;
  /** POST /v1/models/pull may reach non-public addresses (config pull.allow_private_addresses). */
  pullAllowPrivateAddresses?: boolean;
}

/** Methods whose requests carry no meaningful body (RFC 9110 9.3). */
const BODILESS = new Set(["DELETE", "OPTIONS", "GET", "HEAD"]);

const ROUTE_OF = { chat: "/v1/chat/completions", text: "/v1/completions" } as const;
/** Routes whose requests get a usage row: the engine reports generations it saw, this app the rest. */
const USAGE_ROUTES = new Set<string>([
  ...Object.values(ROUTE_OF), "/v1/embeddings", "/v1/rerank", "/rerank", "/chat/completions", "/v1/responses", "/v1/messages",
  "/api/chat", "/api/generate", "/api/embed", "/api/embeddings",
]);

export function buildApp(opts: AppOptions): FastifyInstance {
  const server = serverTimeouts(opts.timeouts ?? { headersMs: 30_000, requestMs: 60_000, keepAliveMs: 72_000, connectionMs: 0 });
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit,
    requestTimeout: server.requestTimeout,
    keepAliveTimeout: server.keepAliveTimeout,
    connectionTimeout: opts.timeouts?.connectionMs ?? 0,
    http: server,
    // Usage rows are keyed by request id, and must not repeat after a restart.
    genReqId: () => randomUUID(),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaErrorFormatter: (errs) => validationError(errs),
    clientErrorHandler: clientError,
    // GET / is the web app, and "Ollama is running" on the Ollama listener (listeners.ts).
    routerOptions: { constraints: { listener: listenerConstraint } },
    ...(opts.https ? { https: { ...server, ...opts.https } } : {}),
  }) as unknown as FastifyInstance;
  // Clients like `curl -d` send bodies without a JSON Content-Type; llama-server reads them as JSON,
  // so do the same rather than answer 415.
  const strict = app.getDefaultJsonParser("error", "error");
  // A DELETE has no body, yet clients (fetch wrappers, SDKs) send it with a JSON Content-Type;
  // Fastify's parser refuses the empty body with a 400. Empty there means no body at all.
  const json: typeof strict = (request, body, done) => {
    if (body === "" && BODILESS.has(request.method)) return done(null, undefined);
    return strict(request, body, done);
  };
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, json);
  app.addContentTypeParser("*", { parseAs: "string" }, json);
  const metrics = new Metrics(opts.router, () => ({ usedBytes: opts.router.usedBytes, budgetBytes: opts.router.budgetBytes }));
  const report = errorReporter(metrics, opts.bodyLimit);
  registerErrorHandling(app, report, metrics);
  const usage = opts.usage.log;
  metrics.gauge("hearth_usage_rows_written", "Usage log rows written to the database since start (a gauge: read from the log)", () => usage.written);
  metrics.gauge("hearth_usage_rows_pending", "Usage log rows waiting to be written (they grow while the database is unreachable)", () => usage.pending);
  metrics.gauge("hearth_usage_rows_dropped", "Usage log rows dropped because the buffer was full (usage.buffer_rows)", () => usage.dropped);
  metrics.gauge("hearth_usage_rows_refused", "Usage log rows the database refused for their data, each dropped alone (the error log names them)", () => usage.refused);
  // The edge's steps, in order: the request's record opens; a request a browser must not make is
  // refused whatever key it carries; the key (auth, on the matched route); after validation, the
  // key's permission for the model the route serves. Limits and the response cache follow in the
  // generation path (generation.ts), which needs the request's parsed prompt.
  registerRequestRecord(app, (name) => opts.router.resolveId(name));
  registerBrowserGuard(app, opts.browser ?? { listenHost: "127.0.0.1", allowedHosts: [], corsOrigins: [] });
  app.decorate("routeTable", registerAuth(app, { mode: opts.auth.mode, adminKey: opts.auth.adminKey, keys: opts.keys }));

  // The usage log: one row per generation request. The engine reports those it saw (cancelled and
  // failed ones included); the rest (refused, rate-limited, invalid, answered from the cache) here.
  opts.router.onFinished((r) => opts.usage.log.record(usageRowFromFinished(r, {
    route: r.route ?? ROUTE_OF[r.endpoint], status: statusOf(r), keyName: r.tenant ?? null, userId: r.user ?? null,
  })));
  const recordUsage = (request: FastifyRequest, route: string, status: number, durationMs: number, raw: unknown) => {
    if (!USAGE_ROUTES.has(route) || request.record.engineCalled || request.record.usageRecorded) return;
    request.record.usageRecorded = true;
    opts.usage.log.record(usageRowOf(request, route, status, durationMs, raw as UsageBody | undefined));
  };
  const recordRequest = (request: FastifyRequest, route: string, status: number, durationMs: number, raw: unknown) => {
    metrics.response(route, metrics.modelLabel((raw as { model?: unknown } | undefined)?.model), status);
    recordUsage(request, route, status, durationMs, raw);
  };
  // The row goes to the journal before the response's bytes (onResponse runs after they are sent,
  // too late if the process dies then); a hijacked reply (a cached stream) has no onSend: onResponse.
  app.addHook("onSend", async (request, reply, payload) => {
    recordUsage(request, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime, request.body);
    return payload;
  });
  app.addHook("onResponse", async (request, reply) => recordRequest(request, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime, request.body));

  // The request schemas that validate bodies also describe the API: GET /openapi.json.
  void app.register(swagger, { openapi: { info: { title: "Hearth", description: "OpenAI-compatible LLM server", version } } });
  const deps: RouteDeps = {
    router: opts.router, report, metrics, ...(opts.draining ? { draining: opts.draining } : {}), defaults: opts.defaults, bodyLimit: opts.bodyLimit, streamBufferBytes: opts.streamBufferBytes ?? 1024 * 1024, limiter: opts.limiter,
    ...(opts.cache ? { cache: opts.cache.store } : {}), cacheSampled: opts.cache?.sampled ?? false, cacheTtlSeconds: opts.cache?.ttlSeconds ?? 0,
    ...(opts.conversations ? { conversations: opts.conversations } : {}),
    pullAllowPrivateAddresses: opts.pullAllowPrivateAddresses ?? false,
    started: (j) => usage.started({ requestId: j.id, model: j.model, route: j.route ?? ROUTE_OF[j.prompt.kind === "chat" ? "chat" : "text"], keyName: j.tenant ?? null, userId: j.user ?? null }),
  };
  // A browser cannot set headers on a WebSocket: its key may come as the subprotocol hearth.bearer.<key> (auth.ts).
  void app.register(websocket, { options: { maxPayload: opts.bodyLimit, handleProtocols: chooseProtocol } });
  // Routes go in a plugin registered after swagger, so that swagger sees them being added.
  void app.register(async (scope) => {
    const appPage = await webAppRoutes(scope, opts.webRoot ?? DEFAULT_WEB_ROOT);
    chatCompletionsRoute(scope, deps);
    chatCompletionsWsRoute(scope, deps, recordRequest);
    if (opts.conversations) conversationsRoute(scope, opts.conversations);
    completionsRoute(scope, deps);
    if (opts.responses) responsesRoutes(scope, deps, opts.responses);
    embeddingsRoute(scope, deps);
    messagesRoutes(scope, deps);
    rerankRoute(scope, deps);
    tokenizeRoutes(scope, deps);
    modelsRoute(scope, deps, appPage);
    ollamaRoutes(scope, deps);
    pullRoute(scope, deps);
    healthRoute(scope, deps);
    slotsRoute(scope, deps);
    metricsRoutes(scope, deps);
    adminRoutes(scope, opts.keys);
    usageRoute(scope, opts.usage.report);
    scope.get("/openapi.json", { config: { access: "open" }, schema: { hide: true } }, async () => app.swagger());
  });
  return app;
}

/**
 * Node's options for the HTTP server. Node refuses a headers timeout above the request timeout, and
 * checks both only every connectionsCheckingInterval (30 s by default), which would let a slow
 * client stay that much longer than configured.
 */
export function serverTimeouts(t: NonNullable<AppOptions["timeouts"]>) {
  const headersTimeout = t.requestMs > 0 ? Math.min(t.headersMs, t.requestMs) : t.headersMs;
  return {
    headersTimeout,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
  };
}

/** The status a request the engine finished ended with: a client that went away is nginx's 499. */
function statusOf(r: FinishedRequest): number {
  if (r.error) return r.error.statusCode;
  return r.reason === "cancelled" ? 499 : 200;
}

/** What a refused request's row reads of its body: the model, and the end user (OpenAI's `user`, Anthropic's `metadata.user_id`). */
type UsageBody = { model?: unknown; user?: unknown; metadata?: { user_id?: unknown } };

function usageRowOf(request: FastifyRequest, route: string, status: number, durationMs: number, body: UsageBody | undefined): UsageRow {
  const { answered, errorCode } = request.record;
  const used = answered?.usage;
  return {
    ts: new Date(),
    requestId: request.id,
    keyName: request.caller?.key?.name ?? null,
    model: toStoredText(body?.model, 256) ?? "",
    route,
    status,
    finishReason: null,
    promptTokens: used?.promptTokens ?? 0,
    cachedTokens: used?.cachedPromptTokens ?? 0,
    completionTokens: used?.completionTokens ?? 0,
    queueMs: 0,
    ttftMs: null,
    durationMs,
    errorType: errorCode ?? null,
    userId: toStoredText(body?.user ?? body?.metadata?.user_id, 512),
    cacheHit: answered?.cacheHit ?? false,
  };
}
