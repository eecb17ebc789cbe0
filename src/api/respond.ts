import type { FastifyReply, FastifyRequest } from "fastify";
import type { Engine, FinalEvent, GenerateRequest, Timings, Usage } from "../engine/types.ts";
import { errors, HearthError } from "../errors.ts";
import type { Metrics } from "../metrics/Metrics.ts";
import { toHearthError } from "./errorHandler.ts";
import { startSse } from "./sse.ts";
import { serverTimingHeader } from "./routes/common.ts";

/** The finish reasons a client sees; requests that end otherwise end with an error. */
export type OpenAIFinishReason = "stop" | "length" | "tool_calls";

/** The engine's reasons that end a request normally. */
export const isCompleted = (reason: string): reason is OpenAIFinishReason => reason === "stop" || reason === "length" || reason === "tool_calls";

/** How one endpoint shapes its JSON response and its stream chunks (OpenAI's formats differ). */
export interface ResponseFormat {
  /** The stream's first chunk, before any text (chat sends the assistant role there). */
  opening(): object | null;
  /** The chunks for new text: one, several, or none (text held back until it can be shaped). */
  chunk(text: string): object | object[] | null;
  closing(finishReason: OpenAIFinishReason, timings: Timings): object;
  usageChunk(usage: Usage): object;
  complete(text: string, finishReason: OpenAIFinishReason, usage: Usage, timings: Timings): object;
}

export interface StreamOptions {
  stream: boolean;
  includeUsage: boolean;
}

export interface RespondContext {
  metrics: Metrics;
  bodyLimit: number;
}

/** Where one request's events go: a JSON body at the end, or SSE as they come. */
interface Sink {
  text(text: string): Promise<void>;
  end(final: FinalEvent): Promise<void>;
  /** The engine broke its contract (threw after accepting): the client still gets an error. */
  fail(err: unknown): Promise<void>;
}

/**
 * Runs one generation for one HTTP request. A refusal before generation starts (unknown model,
 * prompt too long, queue full) becomes an ordinary HTTP error; after that, the request's final
 * event decides the ending: a response, an HTTP error (JSON), or an SSE error event then `[DONE]`.
 * A client that goes away cancels its generation; its final event is still read, so what it used
 * is reported.
 */
export async function respond(
  engine: Engine, request: FastifyRequest, reply: FastifyReply,
  job: GenerateRequest, format: ResponseFormat, opts: StreamOptions, ctx: RespondContext,
): Promise<{ final: FinalEvent | null; text: string }> {
  const controller = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableEnded) controller.abort();
  });
  const events = engine.generate(job, controller.signal)[Symbol.asyncIterator]();
  const first = await events.next(); // throws to Fastify's error handler before anything is sent
  const sink = opts.stream ? await sseSink(request, reply, format, opts.includeUsage, ctx) : jsonSink(reply, format);
  let text = "";
  let final: FinalEvent | null = null;
  try {
    for (let r = first; !r.done; r = await events.next()) {
      const ev = r.value;
      if (ev.type === "text") {
        text += ev.text;
        await sink.text(ev.text);
      } else if (ev.type === "final") {
        final = ev;
        await sink.end(ev);
      }
    }
  } catch (err) {
    await sink.fail(err);
  } finally {
    await events.return?.(undefined);
  }
  return { final, text };
}

/** Answers with a stored completion, as JSON or as a stream, exactly as a generated one would be sent. */
export async function replay(
  request: FastifyRequest, reply: FastifyReply, format: ResponseFormat, opts: StreamOptions, ctx: RespondContext,
  stored: { text: string; finishReason: OpenAIFinishReason; usage: Usage },
): Promise<void> {
  const final: FinalEvent = { type: "final", reason: stored.finishReason, usage: stored.usage, timings: { queueMs: 0, promptMs: 0, generationMs: 0, promptEvaluated: 0, promptCached: stored.usage.promptTokens, completionTokens: stored.usage.completionTokens } };
  const sink = opts.stream ? await sseSink(request, reply, format, opts.includeUsage, ctx) : jsonSink(reply, format);
  if (stored.text) await sink.text(stored.text);
  await sink.end(final);
}

function jsonSink(reply: FastifyReply, format: ResponseFormat): Sink {
  let text = ""; // the sink's own copy: respond() keeps one for its caller too
  return {
    async text(t) { text += t; },
    async end(final) {
      if (final.reason === "cancelled") return; // nobody is listening
      if (!isCompleted(final.reason)) throw errorOf(final);
      void reply.header("server-timing", serverTimingHeader(final.timings));
      void reply.send(format.complete(text, final.reason, final.usage, final.timings));
    },
    async fail(err) { throw err; },
  };
}

async function sseSink(request: FastifyRequest, reply: FastifyReply, format: ResponseFormat, includeUsage: boolean, ctx: RespondContext): Promise<Sink> {
  reply.hijack();
  const res = reply.raw;
  startSse(res, reply.getHeaders());
  const send = (data: object | string) => write(res, `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
  const close = async () => {
    if (res.destroyed) return;
    await send("[DONE]");
    res.end();
  };
  const fail = async (err: unknown) => {
    const mapped = toHearthError(err, ctx.bodyLimit);
    if (mapped.statusCode >= 500) request.log.error({ err }, "generation failed mid-stream");
    ctx.metrics.error(mapped.code);
    await send(mapped.toJSON());
    await close();
  };
  const opening = format.opening();
  if (opening) await send(opening);
  return {
    async text(t) {
      const chunks = format.chunk(t);
      for (const c of chunks === null ? [] : Array.isArray(chunks) ? chunks : [chunks]) await send(c);
    },
    async end(final) {
      if (final.reason === "cancelled") return close();
      if (!isCompleted(final.reason)) return fail(errorOf(final));
      await send(format.closing(final.reason, final.timings));
      if (includeUsage) await send(format.usageChunk(final.usage));
      await close();
    },
    fail,
  };
}

function errorOf(final: FinalEvent): HearthError {
  return final.error ? HearthError.fromWire(final.error) : errors.engineFailed(`the request ended with reason '${final.reason}'`);
}

/** Writes, waiting for the socket to drain when its buffer is full, so a slow reader bounds memory. */
function write(res: NodeJS.WritableStream & { destroyed: boolean }, text: string): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  if (res.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { res.off("drain", done); res.off("close", done); resolve(); };
    res.once("drain", done);
    res.once("close", done);
  });
}
