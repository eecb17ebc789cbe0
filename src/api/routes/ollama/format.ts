import type { Timings, ToolCall, ToolCallEvent, Usage } from "../../../engine/types.ts";
import { NDJSON, type ResponseFormat } from "../../respond.ts";
import type { OllamaChatResponse, OllamaDoneReason, OllamaGenerateResponse, OllamaToolCall } from "../../../wire/ollama.ts";
import type { OpenAIFinishReason } from "../../../wire/chatCompletion.ts";
import { ollamaError } from "./names.ts";

/** When a request arrived, and whether its model was loaded then: what the durations are counted from. */
export interface RequestClock {
  /** performance.now() at arrival. */
  startedMs: number;
  /** The model had to be loaded first: the time outside the engine's timings is counted as loading. */
  loading: boolean;
}

const NS_PER_MS = 1_000_000;
const ns = (ms: number) => Math.round(ms * NS_PER_MS);

/** Ollama's `done_reason`: a reply that ended in tool calls ended normally, `stop`. */
const doneReason = (reason: OpenAIFinishReason): OllamaDoneReason => (reason === "length" ? "length" : "stop");

/** The last object's figures, in nanoseconds, from the engine's timings and the request's clock. */
export function statistics(reason: OpenAIFinishReason, usage: Usage, t: Timings, clock: RequestClock) {
  const total = performance.now() - clock.startedMs;
  const engine = t.queueMs + t.promptMs + t.generationMs;
  return {
    done_reason: doneReason(reason),
    total_duration: ns(total),
    load_duration: clock.loading ? ns(Math.max(0, total - engine)) : 0,
    prompt_eval_count: usage.promptTokens,
    prompt_eval_duration: ns(t.promptMs),
    eval_count: usage.completionTokens,
    eval_duration: ns(t.generationMs),
  };
}

const createdAt = () => new Date().toISOString();

/** A finished call in Ollama's shape: its arguments as an object (`{}` when the model wrote no valid object). */
export function ollamaToolCall(call: Pick<ToolCall, "name" | "arguments">, index: number): OllamaToolCall {
  let args: unknown;
  try {
    args = JSON.parse(call.arguments);
  } catch {
    args = {};
  }
  return { function: { index, name: call.name, arguments: typeof args === "object" && args !== null && !Array.isArray(args) ? args as Record<string, unknown> : {} } };
}

/**
 * What both streams share: NDJSON, an error as `{"error": ...}` for the last line, nothing before
 * the first piece, no usage chunk (the statistics are in the last object).
 */
const base = {
  wire: NDJSON,
  opening: () => null,
  streamError: (err: Parameters<typeof ollamaError>[0]) => ({ error: err.message }),
};

/**
 * POST /api/chat's objects. Streamed, each piece of text or thinking is an object with
 * `done: false`; a tool call goes out whole, once complete (Ollama's arguments are an object, not
 * text that could be sent in pieces); the last object has an empty message and the statistics.
 */
export function ollamaChatFormat(model: string, clock: RequestClock): ResponseFormat {
  const piece = (message: OllamaChatResponse["message"]): OllamaChatResponse => ({ model, created_at: createdAt(), message, done: false });
  const calls = new Map<number, ToolCall>();
  return {
    ...base,
    chunk: (_i, text) => piece({ role: "assistant", content: text }),
    reasoning: (_i, text) => piece({ role: "assistant", content: "", thinking: text }),
    toolCall: (_i, ev: ToolCallEvent) => {
      if (ev.type === "tool_call_start") calls.set(ev.index, { id: ev.id, name: ev.name, arguments: "" });
      else if (ev.type === "tool_call_delta") calls.get(ev.index)!.arguments += ev.arguments;
      else return piece({ role: "assistant", content: "", tool_calls: [ollamaToolCall(calls.get(ev.index)!, ev.index)] });
      return null;
    },
    closing: (_i, final): OllamaChatResponse => ({
      model, created_at: createdAt(), message: { role: "assistant", content: "" }, done: true, ...statistics(final.reason, final.usage, final.timings, clock),
    }),
    complete: ([c], usage, timings): OllamaChatResponse => ({
      model, created_at: createdAt(),
      message: {
        role: "assistant", content: c!.text,
        ...(c!.reasoning ? { thinking: c!.reasoning } : {}),
        ...(c!.toolCalls?.length ? { tool_calls: c!.toolCalls.map((call, i) => ollamaToolCall(call, i)) } : {}),
      },
      done: true, ...statistics(c!.finishReason, usage, timings, clock),
    }),
  };
}

/** POST /api/generate's objects: as chat's, with the text in `response` and the reasoning in `thinking`. */
export function ollamaGenerateFormat(model: string, clock: RequestClock): ResponseFormat {
  const piece = (response: string, thinking?: string): OllamaGenerateResponse => ({ model, created_at: createdAt(), response, ...(thinking !== undefined ? { thinking } : {}), done: false });
  return {
    ...base,
    chunk: (_i, text) => piece(text),
    reasoning: (_i, text) => piece("", text),
    closing: (_i, final): OllamaGenerateResponse => ({ model, created_at: createdAt(), response: "", done: true, ...statistics(final.reason, final.usage, final.timings, clock) }),
    complete: ([c], usage, timings): OllamaGenerateResponse => ({
      model, created_at: createdAt(), response: c!.text, ...(c!.reasoning ? { thinking: c!.reasoning } : {}), done: true, ...statistics(c!.finishReason, usage, timings, clock),
    }),
  };
}
