import type { ToolCall, ToolCallEvent, Usage } from "../../../engine/types.ts";
import type { HearthError } from "../../../errors.ts";
import { TYPED_SSE, type Chunks, type ResponseFormat } from "../../respond.ts";
import type { OutputItem, ResponseObject, ResponseUsage } from "../../../wire/response.ts";

/** What a response echoes of its request (OpenAI's Response object repeats its settings). */
export type ResponseSettings = Pick<ResponseObject, "model" | "instructions" | "tools" | "tool_choice" | "parallel_tool_calls" | "temperature" | "top_p" |
  "max_output_tokens" | "previous_response_id" | "store" | "metadata" | "text" | "reasoning" | "truncation" | "user">;

/** One generated answer, as the response's output is made from it. */
export interface Answer { text: string; reasoning: string; toolCalls: ToolCall[]; finishReason: string | null; usage: Usage | null }

/** The response object, and the format that writes it and its stream, for one request. */
export interface ResponsesFormat extends ResponseFormat {
  /** The finished response for an answer: the same object (ids, times) however often it is asked for. */
  result(answer: Answer): ResponseObject;
}

/**
 * OpenAI's Response object and its typed stream events. The output items are a reasoning item (the
 * model reasoned), a message (it wrote text, or made no call), then one function_call item per
 * call, in the order the engine produces them; their ids derive from the response's, so a
 * streamed response and the one stored or fetched later name the same items.
 */
export function responsesFormat(id: string, settings: ResponseSettings): ResponsesFormat {
  const createdAt = Math.floor(Date.now() / 1000);
  const key = id.slice("resp_".length);
  const ids = { reasoning: `rs_${key}`, message: `msg_${key}`, call: (i: number) => `fc_${key}_${i}` };
  const shell = (status: ResponseObject["status"], output: OutputItem[], extra: Partial<ResponseObject> = {}): ResponseObject => ({
    id, object: "response", created_at: createdAt, status, completed_at: null, error: null, incomplete_details: null,
    ...settings, output, ...extra,
  });
  let finished: ResponseObject | null = null;
  const result = (a: Answer): ResponseObject => {
    if (finished) return finished;
    const incomplete = a.finishReason === "length";
    const output: OutputItem[] = [
      ...(a.reasoning ? [reasoningItem(ids.reasoning, a.reasoning, "completed")] : []),
      ...(a.text !== "" || a.toolCalls.length === 0 ? [messageItem(ids.message, a.text, incomplete ? "incomplete" : "completed")] : []),
      ...a.toolCalls.map((c, i) => callItem(ids.call(i), c, "completed")),
    ];
    finished = shell(incomplete ? "incomplete" : "completed", output, {
      completed_at: Math.floor(Date.now() / 1000),
      ...(incomplete ? { incomplete_details: { reason: "max_output_tokens" } } : {}),
      ...(a.usage ? { usage: responseUsage(a.usage) } : {}),
    });
    return finished;
  };

  // The stream's state: what was generated so far, and the output item being written.
  const answer: Answer = { text: "", reasoning: "", toolCalls: [], finishReason: null, usage: null };
  let seq = 0;
  let outputIndex = -1;
  let open: { kind: "reasoning" } | { kind: "message" } | { kind: "call"; index: number } | null = null;
  const ev = (type: string, fields: object) => ({ type, sequence_number: seq++, ...fields });
  const itemNow = (): OutputItem => {
    if (open?.kind === "reasoning") return reasoningItem(ids.reasoning, answer.reasoning, "completed");
    if (open?.kind === "message") return messageItem(ids.message, answer.text, "completed");
    const call = answer.toolCalls[(open as { index: number }).index]!;
    return callItem(ids.call((open as { index: number }).index), call, "completed");
  };
  const close = (): object[] => {
    if (!open) return [];
    const item = itemNow();
    const at = { item_id: item.id, output_index: outputIndex };
    const events = open.kind === "reasoning" ? [
      ev("response.reasoning_text.done", { ...at, content_index: 0, text: answer.reasoning }),
      ev("response.content_part.done", { ...at, content_index: 0, part: { type: "reasoning_text", text: answer.reasoning } }),
    ] : open.kind === "message" ? [
      ev("response.output_text.done", { ...at, content_index: 0, text: answer.text, logprobs: [] }),
      ev("response.content_part.done", { ...at, content_index: 0, part: outputText(answer.text) }),
    ] : [
      ev("response.function_call_arguments.done", { ...at, name: answer.toolCalls[open.index]!.name, arguments: answer.toolCalls[open.index]!.arguments }),
    ];
    open = null;
    return [...events, ev("response.output_item.done", { output_index: outputIndex, item })];
  };
  const start = (next: NonNullable<typeof open>): object[] => {
    const closing = close();
    open = next;
    outputIndex++;
    const at = { output_index: outputIndex };
    if (next.kind === "reasoning") {
      return [...closing, ev("response.output_item.added", { ...at, item: { ...reasoningItem(ids.reasoning, "", "in_progress"), content: [] } }),
        ev("response.content_part.added", { ...at, item_id: ids.reasoning, content_index: 0, part: { type: "reasoning_text", text: "" } })];
    }
    if (next.kind === "message") {
      return [...closing, ev("response.output_item.added", { ...at, item: { ...messageItem(ids.message, "", "in_progress"), content: [] } }),
        ev("response.content_part.added", { ...at, item_id: ids.message, content_index: 0, part: outputText("") })];
    }
    const call = answer.toolCalls[next.index]!;
    return [...closing, ev("response.output_item.added", { ...at, item: callItem(ids.call(next.index), { ...call, arguments: "" }, "in_progress") })];
  };

  return {
    wire: TYPED_SSE,
    result,
    opening: () => {
      const created = shell("in_progress", []);
      return [ev("response.created", { response: created }), ev("response.in_progress", { response: created })];
    },
    reasoning: (_i, text): Chunks => {
      const events = open?.kind === "reasoning" ? [] : start({ kind: "reasoning" });
      answer.reasoning += text;
      return [...events, ev("response.reasoning_text.delta", { item_id: ids.reasoning, output_index: outputIndex, content_index: 0, delta: text })];
    },
    chunk: (_i, text): Chunks => {
      if (text === "") return null;
      const events = open?.kind === "message" ? [] : start({ kind: "message" });
      answer.text += text;
      return [...events, ev("response.output_text.delta", { item_id: ids.message, output_index: outputIndex, content_index: 0, delta: text, logprobs: [] })];
    },
    toolCall: (_i, event: ToolCallEvent): Chunks => {
      if (event.type === "tool_call_start") {
        answer.toolCalls[event.index] = { id: event.id, name: event.name, arguments: "" };
        return start({ kind: "call", index: event.index });
      }
      if (event.type === "tool_call_delta") {
        answer.toolCalls[event.index]!.arguments += event.arguments;
        return ev("response.function_call_arguments.delta", { item_id: ids.call(event.index), output_index: outputIndex, delta: event.arguments });
      }
      return close();
    },
    closing: (_i, final) => {
      answer.finishReason = final.reason;
      answer.usage = final.usage;
      // An answer with neither text nor calls still has its (empty) message, as the JSON one does.
      const events = [...(answer.text === "" && answer.toolCalls.length === 0 && open?.kind !== "message" ? start({ kind: "message" }) : []), ...close()];
      const response = result(answer);
      return [...events, ev(response.status === "incomplete" ? "response.incomplete" : "response.completed", { response })];
    },
    complete: (choices, usage) => {
      const c = choices[0]!;
      return result({ text: c.text, reasoning: c.reasoning, toolCalls: c.toolCalls ?? [], finishReason: c.finishReason, usage });
    },
    streamError: (err: HearthError) => {
      const output = [...(answer.reasoning ? [reasoningItem(ids.reasoning, answer.reasoning, "incomplete")] : []), ...(answer.text ? [messageItem(ids.message, answer.text, "incomplete")] : [])];
      return ev("response.failed", { response: shell("failed", output, { error: { code: responseErrorCode(err), message: err.message } }) });
    },
  };
}

/** OpenAI's Response error codes are few: a refusal of the prompt, a rate limit, or the server's fault. */
function responseErrorCode(err: HearthError): "server_error" | "rate_limit_exceeded" | "invalid_prompt" {
  if (err.statusCode === 429) return "rate_limit_exceeded";
  return err.statusCode >= 500 ? "server_error" : "invalid_prompt";
}

const outputText = (text: string) => ({ type: "output_text" as const, text, annotations: [], logprobs: [] });

function messageItem(id: string, text: string, status: "in_progress" | "completed" | "incomplete"): OutputItem {
  return { type: "message", id, role: "assistant", status, content: [outputText(text)] };
}

function reasoningItem(id: string, text: string, status: "in_progress" | "completed" | "incomplete"): OutputItem {
  return { type: "reasoning", id, summary: [], content: [{ type: "reasoning_text", text }], status };
}

function callItem(id: string, call: ToolCall, status: "in_progress" | "completed"): OutputItem {
  return { type: "function_call", id, call_id: call.id, name: call.name, arguments: call.arguments, status };
}

export function responseUsage(u: Usage): ResponseUsage {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedPromptTokens, cache_write_tokens: 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.promptTokens + u.completionTokens,
  };
}
