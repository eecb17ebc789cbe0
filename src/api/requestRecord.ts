import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Usage } from "../engine/types.ts";
import { errors, type HearthError } from "../errors.ts";
import type { Metrics } from "../metrics/Metrics.ts";
import { mayUse } from "./auth.ts";
import { toHearthError } from "./errorHandler.ts";

/**
 * One request as the edge knows it, from its arrival to its answer. The edge's steps and the
 * routes fill it in; app.ts reads it once to write the request's usage row and metrics. A
 * WebSocket message is a request of its own, with a record of its own.
 */
export interface RequestRecord {
  /** The model the request asked for, once the caller was found allowed to use it (see permitModel). */
  model?: string;
  /** It went to the engine, which reports it when it ends (a FinishedRequest): its row comes from there. */
  engineCalled: boolean;
  /** What it used when answered without the engine: a cache hit replays its answer's usage; embeddings count their input. */
  answered?: { usage: Usage; cacheHit: boolean };
  /** The error it was answered with, before or during its answer. */
  errorCode?: string;
  /** Its usage row was written (at onSend, or at onResponse for a hijacked reply). */
  usageRecorded: boolean;
}

declare module "fastify" {
  interface FastifyRequest {
    record: RequestRecord;
  }
  interface FastifyContextConfig {
    /**
     * The model a request to this route asks for (from its validated body): the permission step
     * checks it against the caller's key before the handler runs.
     */
    model?: (request: FastifyRequest) => string;
  }
}

export const newRecord = (): RequestRecord => ({ engineCalled: false, usageRecorded: false });

/** Whether the caller may use the model it names; recorded, else model_not_allowed. */
export function permitModel(request: FastifyRequest, name: string, resolveId: (name: string) => string | undefined): string {
  if (!mayUse(request.caller, name, resolveId(name))) throw errors.modelNotAllowed(name);
  request.record.model = name;
  return name;
}

/**
 * The record, opened for every request, and the model permission step: after auth (onRequest) and
 * the body's validation, before the handler, on routes that declare the model they serve.
 */
export function registerRequestRecord(app: FastifyInstance, resolveId: (name: string) => string | undefined): void {
  app.decorateRequest("record", null as unknown as RequestRecord);
  app.addHook("onRequest", async (request) => { request.record = newRecord(); });
  app.addHook("preHandler", async (request) => {
    const model = request.routeOptions.config.model;
    if (model) permitModel(request, model(request), resolveId);
  });
}

/**
 * The one place an error answering a request is reported, whatever carries the answer (a JSON
 * response, an SSE stream, a WebSocket message, pull events): mapped to a HearthError, counted,
 * noted on the request's record, logged (a 5xx with its cause). The transport writes what comes back.
 */
export type ErrorReporter = (request: FastifyRequest, err: unknown) => HearthError;

export function errorReporter(metrics: Metrics, bodyLimit: number): ErrorReporter {
  return (request, err) => {
    const mapped = toHearthError(err, bodyLimit);
    metrics.error(mapped.code);
    if (request.record) request.record.errorCode = mapped.code;
    if (mapped.statusCode >= 500) request.log.error({ err }, "request failed");
    else request.log.info({ code: mapped.code, param: mapped.param }, mapped.message);
    return mapped;
  };
}
