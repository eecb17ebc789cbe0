import type { ServerResponse } from "node:http";
import type { TSchema } from "typebox";

/** Starts a Server-Sent Events response: no caching, no proxy buffering. */
export function startSse(res: ServerResponse, headers: Record<string, unknown> = {}): void {
  startStream(res, headers, "text/event-stream; charset=utf-8");
}

/** Starts a streamed response of this media type (SSE, NDJSON): no caching, no proxy buffering. */
export function startStream(res: ServerResponse, headers: Record<string, unknown>, contentType: string): void {
  res.writeHead(200, {
    ...(headers as Record<string, string>),
    "content-type": contentType,
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
}

/** Writes one named event, unless the client is gone. */
export function sendEvent(res: ServerResponse, event: string, data: object): void {
  if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * A stream's media type for a route's 200 response in the OpenAPI document, with the schema of each
 * event's data. A streamed reply is written by the route, never by Fastify's serializer, and a JSON
 * answer of the same route is not of this media type: the schema only documents.
 */
export const eventStream = (schema: TSchema) => ({ "text/event-stream": { schema } });

/** The same for a newline-delimited JSON stream (Ollama's): one object of this schema per line. */
export const ndjsonStream = (schema: TSchema) => ({ "application/x-ndjson": { schema } });
