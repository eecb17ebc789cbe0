import type { FastifyReply, FastifyRequest } from "fastify";
import { finalEvent } from "../engine/finalEvent.ts";
import { collectToolCall, wholeToolCall } from "../engine/ToolCallReader.ts";
import type { EngineEvent, FinalEvent, GenerateRequest, GeneratedTokenLogprob, Timings, ToolCall, ToolCallEvent, Usage } from "../engine/types.ts";
import { errors, HearthError } from "../errors.ts";
import type { ModelRouter } from "../serving/ModelRouter.ts";
import type { ErrorReporter } from "./requestRecord.ts";
import { startStream } from "./sse.ts";
import { serverTimingHeader } from "./routes/common.ts";
import type { OpenAIFinishReason } from "../wire/chatCompletion.ts";

/** The engine's reasons that end a request normally. */
export const isCompleted = (reason: string): reason is OpenAIFinishReason => reason === "stop" || reason === "length" || reason === "tool_calls";

/** One choice as it ended, for a JSON response. `logprobs` is null when they were not asked for. */
export interface ChoiceOutput {
  text: string;
  /** A thinking model's reasoning, apart from the text ("" when it had none). */
  reasoning: string;
  finishReason: OpenAIFinishReason;
  logprobs: GeneratedTokenLogprob[] | null;
  /** The tool calls it made, after the text (if any). */
  toolCalls?: ToolCall[];
  /** The stop string that ended it, when one did. */
  stopSequence?: string;
}

/** What a stream method gives: one chunk, several, or none (held back until it can be shaped). */
export type Chunks = object | object[] | null;

/** A final event that ended its choice normally. */
export type CompletedFinal = FinalEvent & { reason: OpenAIFinishReason };

/**
 * How one protocol shapes its JSON response and its stream chunks (each protocol, and each of
 * OpenAI's endpoints, has its own). Every streamed method takes the choice's index (`n` choices are
 * generated side by side). A format is made per request, so it may keep state (which block is open).
 */
export interface ResponseFormat {
  /** A choice's first chunks, before any text (chat sends the assistant role there), once its prompt's tokens are known. */
  opening(index: number, promptTokens: number): Chunks;
  /** The chunks for new text (and its tokens' logprobs, when asked). */
  chunk(index: number, text: string, logprobs?: GeneratedTokenLogprob[]): Chunks;
  /** The chunks for new reasoning; formats without a reasoning field leave it out (it is not sent). */
  reasoning?(index: number, text: string): Chunks;
  /** The chunks for a piece of a tool call; formats without tools leave it out. */
  toolCall?(index: number, event: ToolCallEvent): Chunks;
  /** A choice's last chunks, once it ended normally. */
  closing(index: number, final: CompletedFinal): Chunks;
  /** OpenAI's `stream_options.include_usage` chunk, after every choice ended; protocols whose last event carries the usage have none. */
  usageChunk?(usage: Usage): object;
  complete(choices: ChoiceOutput[], usage: Usage, timings: Timings): object;
  /** The chunk that ends a stream with an error; OpenAI's error object when absent. */
  streamError?(err: HearthError): object;
  /** How chunks are written on an HTTP stream; OpenAI's SSE (`data:` lines, then `[DONE]`) when absent. */
  wire?: StreamWire;
}

/** How a protocol writes its stream's chunks on an HTTP response. */
export interface StreamWire {
  contentType: string;
  /** One chunk as written. */
  frame(chunk: object): string;
  /** Written after the last chunk of a stream that ended (OpenAI's `data: [DONE]`), or nothing. */
  end: string | null;
}

/** OpenAI's SSE: `data:` lines, then `data: [DONE]`. */
export const OPENAI_SSE: StreamWire = { contentType: "text/event-stream; charset=utf-8", frame: (c) => `data: ${JSON.stringify(c)}\n\n`, end: "data: [DONE]\n\n" };
/** SSE whose events are named by their data's `type` (Anthropic's and OpenAI's Responses streams), with no end marker. */
export const TYPED_SSE: StreamWire = { contentType: "text/event-stream; charset=utf-8", frame: (c) => `event: ${(c as { type: string }).type}\ndata: ${JSON.stringify(c)}\n\n`, end: null };
/** Newline-delimited JSON (Ollama's streams). */
export const NDJSON: StreamWire = { contentType: "application/x-ndjson", frame: (c) => `${JSON.stringify(c)}\n`, end: null };

export interface StreamOptions {
  stream: boolean;
  includeUsage: boolean;
  /** Where a stream goes instead of SSE on the HTTP response (a WebSocket); it also says when the client is gone. */
  channel?: StreamChannel;
  /**
   * Called once every choice ended, before the answer's last words are sent (the JSON body, or the
   * stream's usage chunk and `[DONE]`): what the answer said, for a conversation to keep. Not called
   * when the request failed before generating anything.
   */
  beforeFinish?: (outcome: Outcome) => Promise<void>;
}

/** What one request's first choice generated, and how it ended. */
export interface Outcome { text: string; reasoning: string; toolCalls: ToolCall[]; final: FinalEvent | null }

/**
 * Where a stream's chunks go: an HTTP response framed as the protocol frames them, or WebSocket
 * text messages. Each chunk is the same object either way.
 */
export interface StreamChannel {
  /** Aborted when the client goes away (or cancels): the generation is then cancelled. */
  readonly signal: AbortSignal;
  /** Before the first chunk: SSE sends its headers (with the reply's headers so far). */
  open(headers: Record<string, unknown>): void;
  send(data: object): Promise<void>;
  /** After the last chunk: ends the stream (with `[DONE]` where the protocol has one). */
  end(): Promise<void>;
  /** Nobody is listening any more. */
  readonly gone: boolean;
}

export interface RespondContext {
  /** How an error that ends a stream is reported, before it is sent as the stream's last event. */
  report: ErrorReporter;
  /** A stream's unsent bytes for a client that does not read, before the stream is cut. */
  streamBufferBytes: number;
}

interface ChoiceState { final: FinalEvent | null; text: string; reasoning: string; logprobs: GeneratedTokenLogprob[] | null; toolCalls: ToolCall[] }

/** What a cache entry holds: enough to answer again exactly as the first time. */
export interface StoredAnswer { text: string; reasoning?: string; finishReason: OpenAIFinishReason; usage: Usage; toolCalls?: Omit<ToolCall, "id">[]; stopSequence?: string }

/** Where one request's events go: a JSON body at the end, or SSE as they come. */
interface Sink {
  /** Before the first event (a stream sends its headers and openings), with each choice's prompt tokens. */
  open(promptTokens: number[]): Promise<void>;
  text(index: number, text: string, logprobs?: GeneratedTokenLogprob[]): Promise<void>;
  reasoning(index: number, text: string): Promise<void>;
  toolCall(index: number, event: ToolCallEvent): Promise<void>;
  /** One choice ended. */
  end(index: number, final: FinalEvent): Promise<void>;
  /** Every choice ended. */
  finish(choices: ChoiceState[]): Promise<void>;
  /** The engine broke its contract (threw after accepting): the client still gets an error. */
  fail(err: unknown): Promise<void>;
}

/**
 * Runs the generations of one HTTP request (one per choice: `n` of them, side by side). A refusal
 * before generation starts (unknown model, prompt too long, queue full) becomes an ordinary HTTP
 * error, and cancels the choices that were accepted; after that, the final events decide the
 * ending: a response, an HTTP error (JSON), or an SSE error event then `[DONE]`. A choice that ends
 * in an error cancels the others. A client that goes away cancels every generation; their final
 * events are still read, so what they used is reported. `final` merges the choices' final events
 * (prompt tokens counted once, completion tokens summed); null if any choice had none.
 */
export async function respond(
  engine: Pick<ModelRouter, "generate">, request: FastifyRequest, reply: FastifyReply,
  jobs: GenerateRequest[], format: ResponseFormat, opts: StreamOptions, ctx: RespondContext,
): Promise<{ final: FinalEvent | null; text: string; choices: ChoiceState[] }> {
  const controller = new AbortController();
  const channel = opts.stream ? opts.channel ?? httpChannel(reply, ctx.streamBufferBytes, format.wire ?? OPENAI_SSE) : null;
  const gone = channel?.signal ?? closeSignal(reply);
  if (gone.aborted) controller.abort();
  else gone.addEventListener("abort", () => controller.abort(), { once: true });
  const iterators = jobs.map((job) => engine.generate(job, controller.signal)[Symbol.asyncIterator]());
  const firsts = await Promise.allSettled(iterators.map((it) => it.next()));
  const refused = firsts.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (refused) {
    // Throws to Fastify's error handler before anything is sent; the accepted choices are cancelled and read to their end.
    controller.abort();
    await Promise.all(iterators.map(async (it, i) => {
      const first = firsts[i]!;
      if (first.status !== "fulfilled") return;
      try {
        for (let r = first.value; !r.done; r = await it.next()) { /* drain */ }
      } catch { /* already failing */ } finally {
        await it.return?.(undefined);
      }
    }));
    throw refused.reason;
  }
  const sink = channel ? streamSink(request, channel, reply.getHeaders(), format, opts.includeUsage, jobs.length, ctx) : jsonSink(reply, format);
  await sink.open(firsts.map((f) => {
    const ev = (f as PromiseFulfilledResult<IteratorResult<EngineEvent>>).value.value as EngineEvent | undefined;
    return ev?.type === "accepted" ? ev.promptTokens : 0;
  }));
  const choices = jobs.map((job) => newChoice(job.logprobs !== undefined));
  let broken: { err: unknown } | null = null;
  await Promise.all(iterators.map(async (it, i) => {
    try {
      for (let r = (firsts[i] as PromiseFulfilledResult<IteratorResult<EngineEvent>>).value; !r.done; r = await it.next()) {
        const ev = r.value;
        if (ev.type === "final" && ev.reason !== "cancelled" && !isCompleted(ev.reason)) controller.abort();
        await take(sink, choices, i, ev);
      }
    } catch (err) {
      broken ??= { err };
      controller.abort();
    } finally {
      await it.return?.(undefined);
    }
  }));
  if (broken) await sink.fail((broken as { err: unknown }).err);
  else {
    const { text, reasoning, toolCalls } = choices[0]!;
    await keep(request, opts, { text, reasoning, toolCalls, final: mergeFinals(choices) });
    await sink.finish(choices);
  }
  return { final: mergeFinals(choices), text: choices[0]!.text, choices };
}

/** The choices' final events as one: prompt tokens once, completion tokens summed, the slowest times. */
export function mergeFinals(choices: readonly { final: FinalEvent | null }[]): FinalEvent | null {
  const finals = choices.map((c) => c.final);
  if (finals.some((f) => f === null)) return null;
  const all = finals as FinalEvent[];
  if (all.length === 1) return all[0]!;
  const first = all[0]!;
  const bad = all.find((f) => !isCompleted(f.reason));
  const sum = (get: (f: FinalEvent) => number) => all.reduce((n, f) => n + get(f), 0);
  const max = (get: (f: FinalEvent) => number) => Math.max(...all.map(get));
  return {
    type: "final",
    reason: bad?.reason ?? first.reason,
    usage: {
      promptTokens: first.usage.promptTokens, completionTokens: sum((f) => f.usage.completionTokens), cachedPromptTokens: first.usage.cachedPromptTokens,
      ...(first.usage.reasoningTokens !== undefined ? { reasoningTokens: sum((f) => f.usage.reasoningTokens ?? 0) } : {}),
    },
    timings: {
      queueMs: max((f) => f.timings.queueMs),
      promptMs: max((f) => f.timings.promptMs),
      generationMs: max((f) => f.timings.generationMs),
      promptEvaluated: sum((f) => f.timings.promptEvaluated),
      promptCached: sum((f) => f.timings.promptCached),
      completionTokens: sum((f) => f.timings.completionTokens),
    },
    ...(bad?.error ? { error: bad.error } : {}),
  };
}

const newChoice = (logprobs: boolean): ChoiceState => ({ final: null, text: "", reasoning: "", logprobs: logprobs ? [] : null, toolCalls: [] });

/** Takes one event of choice `i`: keeps what the whole answer needs, and hands it to the sink. */
async function take(sink: Sink, choices: ChoiceState[], i: number, ev: EngineEvent): Promise<void> {
  const choice = choices[i]!;
  if (ev.type === "accepted") return;
  if (ev.type === "text") {
    choice.text += ev.text;
    if (ev.logprobs && choice.logprobs) choice.logprobs.push(...ev.logprobs);
    await sink.text(i, ev.text, ev.logprobs);
  } else if (ev.type === "reasoning") {
    choice.reasoning += ev.text;
    await sink.reasoning(i, ev.text);
  } else if (ev.type === "final") {
    choice.final = ev;
    await sink.end(i, ev);
  } else {
    collectToolCall(choice.toolCalls, ev);
    await sink.toolCall(i, ev);
  }
}

/**
 * Answers with a stored completion, as JSON or as a stream, exactly as a generated one would be
 * sent: its events again (its tool calls with new ids, as every answer's calls have their own).
 */
export async function replay(
  request: FastifyRequest, reply: FastifyReply, format: ResponseFormat, opts: StreamOptions, ctx: RespondContext, stored: StoredAnswer,
): Promise<void> {
  const final = finalEvent(stored.finishReason, stored.usage, { queueMs: 0, promptMs: 0, generationMs: 0, promptCached: stored.usage.promptTokens }, undefined, stored.stopSequence);
  const events: EngineEvent[] = [
    ...(stored.reasoning ? [{ type: "reasoning" as const, text: stored.reasoning }] : []),
    ...(stored.text ? [{ type: "text" as const, text: stored.text }] : []),
    ...(stored.toolCalls ?? []).flatMap((call, index) => wholeToolCall(index, call)),
    final,
  ];
  const sink = opts.stream ? streamSink(request, opts.channel ?? httpChannel(reply, ctx.streamBufferBytes, format.wire ?? OPENAI_SSE), reply.getHeaders(), format, opts.includeUsage, 1, ctx) : jsonSink(reply, format);
  await sink.open([stored.usage.promptTokens]);
  const choices = [newChoice(false)];
  for (const ev of events) await take(sink, choices, 0, ev);
  await keep(request, opts, { text: stored.text, reasoning: stored.reasoning ?? "", toolCalls: choices[0]!.toolCalls, final });
  await sink.finish(choices);
}

/** Hands the outcome to `beforeFinish`; a failure there is logged, and the answer still goes out. */
async function keep(request: FastifyRequest, opts: StreamOptions, outcome: Outcome): Promise<void> {
  if (!opts.beforeFinish) return;
  try {
    await opts.beforeFinish(outcome);
  } catch (err) {
    request.log.error({ err }, "could not keep the answer");
  }
}

/** Aborted when an HTTP client goes away before its response ended. */
function closeSignal(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableEnded) gone.abort();
  });
  return gone.signal;
}

/** A stream on the HTTP response, framed as `wire` says: the reply is hijacked when the stream opens. */
function httpChannel(reply: FastifyReply, limit: number, wire: StreamWire): StreamChannel {
  const res = reply.raw;
  return {
    signal: closeSignal(reply),
    open(headers) {
      reply.hijack();
      startStream(res, headers, wire.contentType);
    },
    send: async (data) => write(res, wire.frame(data), limit),
    async end() {
      if (wire.end !== null) write(res, wire.end, limit);
      res.end();
    },
    get gone() { return res.destroyed; },
  };
}

function jsonSink(reply: FastifyReply, format: ResponseFormat): Sink {
  return {
    async open() {},
    async text() {},
    async reasoning() {},
    async toolCall() {},
    async end() {},
    async finish(choices) {
      if (choices.some((c) => c.final?.reason === "cancelled")) return; // nobody is listening
      const merged = mergeFinals(choices);
      if (!merged) throw errors.engineFailed("a generation ended without a final event");
      if (!isCompleted(merged.reason)) throw errorOf(merged);
      void reply.header("server-timing", serverTimingHeader(merged.timings));
      const out = choices.map((c): ChoiceOutput => ({
        text: c.text, reasoning: c.reasoning, finishReason: c.final!.reason as OpenAIFinishReason, logprobs: c.logprobs,
        ...(c.toolCalls.length > 0 ? { toolCalls: c.toolCalls } : {}), ...(c.final!.stopSequence !== undefined ? { stopSequence: c.final!.stopSequence } : {}),
      }));
      void reply.send(format.complete(out, merged.usage, merged.timings));
    },
    async fail(err) { throw err; },
  };
}

function streamSink(request: FastifyRequest, channel: StreamChannel, headers: Record<string, unknown>, format: ResponseFormat, includeUsage: boolean, n: number, ctx: RespondContext): Sink {
  let closed = false;
  const send = async (chunks: Chunks | undefined) => {
    if (closed || !chunks) return;
    for (const c of Array.isArray(chunks) ? chunks : [chunks]) await channel.send(c);
  };
  const close = async () => {
    if (closed) return;
    closed = true;
    if (channel.gone) return;
    await channel.end();
  };
  const fail = async (err: unknown) => {
    if (closed) return;
    const mapped = ctx.report(request, err);
    await send(format.streamError ? format.streamError(mapped) : mapped.toJSON());
    await close();
  };
  return {
    async open(promptTokens) {
      channel.open(headers);
      for (let i = 0; i < n; i++) await send(format.opening(i, promptTokens[i] ?? 0));
    },
    text: (i, t, logprobs) => send(closed ? null : format.chunk(i, t, logprobs)),
    reasoning: (i, t) => send(closed ? null : format.reasoning?.(i, t)),
    toolCall: (i, event) => send(closed ? null : format.toolCall?.(i, event)),
    async end(i, final) {
      if (closed || final.reason === "cancelled") return;
      if (!isCompleted(final.reason)) return fail(errorOf(final));
      await send(format.closing(i, final as CompletedFinal));
    },
    async finish(choices) {
      if (closed) return;
      const merged = mergeFinals(choices);
      if (merged && isCompleted(merged.reason) && includeUsage) await send(format.usageChunk?.(merged.usage));
      await close();
    },
    fail,
  };
}

function errorOf(final: FinalEvent): HearthError {
  return final.error ? HearthError.fromWire(final.error) : errors.engineFailed(`the request ended with reason '${final.reason}'`);
}

/**
 * Writes without waiting for 'drain', and cuts the response once more than `limit` bytes wait for
 * a client that does not read; the close cancels the generation. Waiting for 'drain' would not
 * bound memory: the runner keeps generating into the engine's event queue meanwhile.
 */
function write(res: NodeJS.WritableStream & { destroyed: boolean; writableLength: number; destroy(): void }, text: string, limit: number): void {
  if (res.destroyed) return;
  res.write(text);
  if (res.writableLength > limit) res.destroy();
}
