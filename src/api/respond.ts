import type { FastifyReply, FastifyRequest } from "fastify";
import type { Engine, FinishReason, GenerateRequest, Timings, TokenEvent, Usage } from "../engine/types.ts";
import type { Metrics } from "../metrics/Metrics.ts";
import { toHearthError } from "./errorHandler.ts";
import { serverTimingHeader } from "./routes/common.ts";

/** How one endpoint shapes its JSON response and its stream chunks (OpenAI's formats differ). */
export interface ResponseFormat {
  /** The stream's first chunk, before any text (chat sends the assistant role there). */
  opening(): object | null;
  chunk(text: string): object;
  closing(finishReason: FinishReason, timings: Timings): object;
  usageChunk(usage: Usage): object;
  complete(text: string, finishReason: FinishReason, usage: Usage, timings: Timings): object;
}

export interface StreamOptions {
  stream: boolean;
  includeUsage: boolean;
}

export interface RespondContext {
  metrics: Metrics;
  bodyLimit: number;
  /** The model label the request's figures are recorded under. */
  modelLabel: string;
}

/**
 * Runs one generation for one HTTP request. Errors found before generation starts (unknown model,
 * prompt too long) become ordinary HTTP errors; once a stream has begun, an error is sent as an SSE
 * error event followed by `[DONE]`. A client that goes away aborts its generation.
 */
export async function respond(
  engine: Engine, request: FastifyRequest, reply: FastifyReply,
  job: GenerateRequest, format: ResponseFormat, opts: StreamOptions, ctx: RespondContext,
): Promise<void> {
  let ttftMs: number | null = null;
  const record = (ev: Extract<TokenEvent, { type: "done" }>) => ctx.metrics.generation({
    model: ctx.modelLabel,
    ttftMs,
    e2eMs: reply.elapsedTime,
    queueMs: ev.timings.queueMs,
    promptTokens: ev.usage.promptTokens,
    cachedPromptTokens: ev.usage.cachedPromptTokens,
    completionTokens: ev.usage.completionTokens,
  });
  const controller = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableEnded) controller.abort();
  });
  const events = engine.generate(job, controller.signal)[Symbol.asyncIterator]();
  const first = await events.next(); // throws to Fastify's error handler before anything is sent
  if (!opts.stream) {
    try {
      let text = "";
      for (let r = first; !r.done; r = await events.next()) {
        const ev = r.value;
        if (ev.type === "text") {
          ttftMs ??= reply.elapsedTime;
          text += ev.text;
        } else if (ev.type === "done") {
          record(ev);
          void reply.header("server-timing", serverTimingHeader(ev.timings));
          return void reply.send(format.complete(text, ev.finishReason, ev.usage, ev.timings));
        }
      }
      return; // aborted: the client is gone
    } finally {
      await events.return?.(undefined); // ends the generation and frees its slot
    }
  }

  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  const send = (data: object | string) => write(res, `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
  try {
    const opening = format.opening();
    if (opening) await send(opening);
    for (let r = first; !r.done; r = await events.next()) {
      const ev: TokenEvent = r.value;
      if (ev.type === "text") {
        ttftMs ??= reply.elapsedTime;
        await send(format.chunk(ev.text));
      } else if (ev.type === "done") {
        record(ev);
        await send(format.closing(ev.finishReason, ev.timings));
        if (opts.includeUsage) await send(format.usageChunk(ev.usage));
      }
    }
  } catch (err) {
    const mapped = toHearthError(err, ctx.bodyLimit);
    if (mapped.statusCode >= 500) request.log.error({ err }, "generation failed mid-stream");
    ctx.metrics.error(mapped.code);
    if (!res.destroyed) await send(mapped.toJSON());
  } finally {
    await events.return?.(undefined);
  }
  if (!res.destroyed) {
    await send("[DONE]");
    res.end();
  }
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
