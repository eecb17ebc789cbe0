import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyInstance, FastifyRequest, FastifySchemaValidationError } from "fastify";
import { errors, HearthError } from "../errors.ts";
import type { Metrics } from "../metrics/Metrics.ts";
import type { ErrorReporter } from "./requestRecord.ts";
import { STORED_TEXT_PATTERN } from "./routes/common.ts";

/**
 * The one place where errors become OpenAI-shaped responses. Anything that is not a HearthError
 * or a known Fastify client error is a 500 whose details stay in the log.
 */
export function toHearthError(err: unknown, bodyLimit: number): HearthError {
  if (HearthError.is(err)) return err;
  const e = err as Partial<FastifyError> & { status?: number };
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE": return errors.bodyTooLarge(bodyLimit);
    case "FST_ERR_CTP_INVALID_JSON_BODY": return errors.invalidJson("the body is not valid JSON");
    case "FST_ERR_CTP_EMPTY_JSON_BODY": return errors.invalidJson("the body is empty");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH": return errors.invalidRequest("Content-Length does not match the body's length.");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE": return errors.unsupportedMediaType("unknown");
  }
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return errors.invalidRequest(e.message ?? "Bad request.");
  }
  return errors.internal();
}

/**
 * Fastify's clientErrorHandler: errors of Node's HTTP parser, before any route sees the request
 * (slow headers, oversized headers, bytes that are not HTTP), answered in the same OpenAI shape;
 * the connection is then closed, as Node does.
 */
export function clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const mapped = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? errors.clientTimeout()
    : err.code === "HPE_HEADER_OVERFLOW" ? errors.headersTooLarge()
    : errors.badHttp();
  const body = JSON.stringify(mapped.toJSON());
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${mapped.statusCode} ${STATUS_CODES[mapped.statusCode]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Content-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/**
 * Turns ajv's first error into one message and an OpenAI `param` path such as `messages.[0].role`.
 */
export function validationError(list: FastifySchemaValidationError[]): HearthError {
  const first = pickError(list);
  if (!first) return errors.invalidRequest("Invalid request body.");
  const segments = first.instancePath.split("/").slice(1).map((s) => (/^\d+$/.test(s) ? `[${s}]` : decodePointer(s)));
  const params = first.params as { missingProperty?: string; allowedValues?: unknown[] };
  if (first.keyword === "required" && params.missingProperty) segments.push(params.missingProperty);
  const param = segments.length ? segments.join(".") : null;
  const message = first.keyword === "required"
    ? `Missing required parameter: '${param}'.`
    : param
      ? `Invalid value for '${param}': ${describe(first)}.`
      : `Invalid request body: ${describe(first)}.`;
  return errors.invalidRequest(message, param);
}

/**
 * For `X | null` unions ajv reports every branch; the branch that is not `null` explains the
 * problem best ("must be <= 2" rather than "must be null").
 */
function pickError(list: FastifySchemaValidationError[]): FastifySchemaValidationError | undefined {
  return list.find((e) => e.keyword !== "type" || (e.params as { type?: string }).type !== "null") ?? list[0];
}

function describe(e: FastifySchemaValidationError): string {
  if (e.keyword === "anyOf") return "it does not have an accepted type";
  if (e.keyword === "pattern" && (e.params as { pattern?: string }).pattern === STORED_TEXT_PATTERN) return "it must not contain NUL characters or unpaired surrogates";
  const { allowedValues } = e.params as { allowedValues?: unknown[] };
  if (e.keyword === "enum" && allowedValues) return `must be one of ${allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  return e.message ?? "invalid";
}

function decodePointer(segment: string): string {
  return segment.replaceAll("~1", "/").replaceAll("~0", "~");
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** How this route's protocol shapes an error body (Anthropic's, Ollama's); OpenAI's `{"error": {...}}` when absent. */
    errorShape?: ErrorShape;
  }
}

/** A protocol's error body for one of Hearth's errors; the request, for what the protocol's body repeats (Anthropic's request id, the model Ollama's names). */
export type ErrorShape = (err: HearthError, request: FastifyRequest) => object;

/**
 * JSON responses for errors (the reporter maps, counts and logs them) in the shape of the matched
 * route's protocol, and 404s for paths no route matches: Ollama's shape under `/api/` (an Ollama
 * client asking for a route Hearth does not serve, `/api/create`, reads `error` as a string),
 * OpenAI's elsewhere.
 */
export function registerErrorHandling(app: FastifyInstance, report: ErrorReporter, metrics: Metrics): void {
  app.setErrorHandler((err, request, reply) => {
    const mapped = report(request, err);
    if (mapped.retryAfter !== undefined) void reply.header("retry-after", String(mapped.retryAfter));
    const shape = request.routeOptions.config.errorShape;
    void reply.status(mapped.statusCode).send(shape ? shape(mapped, request) : mapped.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const err = errors.routeNotFound(request.method, path);
    metrics.error(err.code);
    void reply.status(err.statusCode).send(path.startsWith("/api/") ? { error: err.message } : err.toJSON());
  });
}
