import type {} from "@fastify/websocket";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { errors, type HearthError } from "../../../errors.ts";
import { BEARER_PROTOCOL } from "../../auth.ts";
import { validationError } from "../../errorHandler.ts";
import { newRecord, permitModel } from "../../requestRecord.ts";
import type { StreamChannel } from "../../respond.ts";
import { LIMITS, withMaxN } from "../common.ts";
import type { RouteDeps } from "../deps.ts";
import { serveChat } from "./route.ts";
import { ChatCompletionRequest } from "./schema.ts";

/** What the app records of one request that did not come as an HTTP request of its own (metrics, usage row). */
export type RecordRequest = (request: FastifyRequest, route: string, status: number, durationMs: number, body: unknown) => void;


/**
 * Picks the subprotocol to answer with: one the client offered that does not carry its key, when
 * it offered one, else the key's (a browser fails the handshake unless one it offered comes back).
 */
export function chooseProtocol(offered: Set<string>): string | false {
  const list = [...offered];
  return list.find((p) => !p.startsWith(BEARER_PROTOCOL)) ?? list[0] ?? false;
}

/**
 * GET /v1/chat/completions/ws (and the seeds' /chat/stream): chat completions over a WebSocket.
 * Each text message is a request body as POST /v1/chat/completions takes it (streamed always);
 * the answer is the SSE stream's chunks, one JSON message each, then `[DONE]`. `{"type":"cancel"}`
 * stops the running request; closing the socket stops it too. One request at a time; a message
 * that cannot be served gets an OpenAI-shaped error message and the socket stays open.
 */
export function chatCompletionsWsRoute(app: FastifyInstance, deps: RouteDeps, record: RecordRequest): void {
  const schema = withMaxN(ChatCompletionRequest, deps.defaults.maxN ?? LIMITS.defaultMaxN);
  // The reply of the upgrade request: hijacked, so nothing is sent through it, but the generation path sets its headers.
  const replies = new WeakMap<FastifyRequest, FastifyReply>();
  const onRequest = async (request: FastifyRequest, reply: FastifyReply) => { replies.set(request, reply); };
  const handler = (socket: WebSocket, request: FastifyRequest) => {
    const validate = request.compileValidationSchema(schema);
    const reply = replies.get(request)!;
    const closed = new AbortController();
    socket.once("close", () => closed.abort());
    let running: AbortController | null = null;
    const sendError = (err: HearthError) => { if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(err.toJSON())); };

    socket.on("message", (data, isBinary) => {
      let body: unknown;
      try {
        body = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString());
      } catch {
        return sendError(errors.invalidJson("the message is not valid JSON"));
      }
      if (isCancel(body)) {
        running?.abort();
        return;
      }
      if (running) return sendError(errors.requestInProgress());
      if (!validate(body)) return sendError(validationError(validate.errors ?? []));
      const cancel = new AbortController();
      running = cancel;
      void serve(body as ChatCompletionRequest, cancel).finally(() => { running = null; });
    });

    const serve = async (body: ChatCompletionRequest, cancel: AbortController) => {
      // Each message is its own request to the generation path (its own usage row); it shares the upgrade request's caller and log.
      const call = Object.create(request) as FastifyRequest;
      call.record = newRecord();
      const started = performance.now();
      let status = 200;
      try {
        // The permission step, as on the HTTP route: each message names its model.
        permitModel(call, body.model, (name) => deps.router.resolveId(name));
        await serveChat(deps, call, reply, body, wsChannel(socket, AbortSignal.any([cancel.signal, closed.signal]), deps.streamBufferBytes));
        if (cancel.signal.aborted || closed.signal.aborted) status = 499;
      } catch (err) {
        const mapped = deps.report(call, err);
        status = mapped.statusCode;
        sendError(mapped);
      } finally {
        record(call, "/v1/chat/completions", status, performance.now() - started, body);
      }
    };
  };
  app.get("/v1/chat/completions/ws", { websocket: true, onRequest }, handler);
  app.get("/chat/stream", { websocket: true, onRequest }, handler);
}

const isCancel = (body: unknown) => typeof body === "object" && body !== null && !Array.isArray(body) && (body as { type?: unknown }).type === "cancel";

/**
 * A stream's chunks as WebSocket text messages. Like SSE (respond.ts), a client that stops reading
 * is cut once `limit` bytes wait unsent, which cancels the generation: waiting for each send to
 * drain would hold the slot for as long as the client cares to hold it.
 */
function wsChannel(socket: WebSocket, signal: AbortSignal, limit: number): StreamChannel {
  const send = (text: string) => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(text);
    if (socket.bufferedAmount > limit) socket.terminate();
  };
  return {
    signal,
    open() {},
    async send(data) {
      send(typeof data === "string" ? data : JSON.stringify(data));
    },
    // The stream's end, as on SSE; the socket stays open for the next request.
    async end() { send("[DONE]"); },
    get gone() { return socket.readyState !== socket.OPEN; },
  };
}
