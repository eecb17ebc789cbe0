import type { FinalEvent, ToolCall, Usage } from "../../../engine/types.ts";
import { TYPED_SSE, type Chunks, type ResponseFormat } from "../../respond.ts";
import type { AnthropicMessage, AnthropicStopReason, AnthropicStreamEvent, AnthropicUsage, ContentBlock } from "../../../wire/anthropic.ts";
import { anthropicError } from "./errors.ts";

/** The model itself made every call Hearth reports (Anthropic's code-execution callers do not exist here). */
const DIRECT = { type: "direct" } as const;

/**
 * Anthropic's Message, and its stream's events: message_start (with the prompt's tokens) and a
 * ping, then a content block per run of one kind of output (thinking, text, a tool call each), in
 * the order the engine gives them (thinking, then text, then the calls), each opened by
 * content_block_start and closed by content_block_stop before the next opens; message_delta with
 * the stop reason and the whole usage, then message_stop. Thinking blocks carry an empty
 * signature (see ThinkingBlock), so no signature_delta is sent. `omitThinking`: thinking blocks
 * without their text (`thinking.display: omitted`).
 */
export function messagesFormat(id: string, model: string, requestId: string, omitThinking: boolean): ResponseFormat {
  let open: { kind: ContentBlock["type"]; index: number } | null = null;
  let blocks = 0;
  const stop = (): AnthropicStreamEvent[] => {
    if (!open) return [];
    const event: AnthropicStreamEvent = { type: "content_block_stop", index: open.index };
    open = null;
    return [event];
  };
  /** The events that make `block` the open one, the block before it closed. */
  const start = (block: ContentBlock): AnthropicStreamEvent[] => {
    if (open?.kind === block.type && block.type !== "tool_use") return [];
    const events = stop();
    open = { kind: block.type, index: blocks++ };
    events.push({ type: "content_block_start", index: open.index, content_block: block });
    return events;
  };
  const delta = (d: Extract<AnthropicStreamEvent, { type: "content_block_delta" }>["delta"]): AnthropicStreamEvent => ({ type: "content_block_delta", index: open!.index, delta: d });
  const message = (content: ContentBlock[], usage: AnthropicUsage, ending: { reason: AnthropicStopReason; sequence: string | null } | null): AnthropicMessage => ({
    id, type: "message", role: "assistant", model, content,
    stop_reason: ending?.reason ?? null, stop_sequence: ending?.sequence ?? null, stop_details: null, container: null, diagnostics: null, usage,
  });
  return {
    opening: (_i, promptTokens): Chunks => [
      // The prompt's reused part is known once it is evaluated: message_delta's usage says it.
      { type: "message_start", message: message([], anthropicUsage({ promptTokens, completionTokens: 0, cachedPromptTokens: 0 }), null) },
      { type: "ping" },
    ],
    // A forced call's arguments come as tool-call events; its text events are empty.
    chunk: (_i, text) => (text === "" ? null : [...start({ type: "text", text: "", citations: null }), delta({ type: "text_delta", text })]),
    reasoning: (_i, text) => {
      const opened = start({ type: "thinking", thinking: "", signature: "" });
      return omitThinking ? opened : [...opened, delta({ type: "thinking_delta", thinking: text })];
    },
    toolCall: (_i, ev) => {
      if (ev.type === "tool_call_start") return start({ type: "tool_use", id: ev.id, name: ev.name, input: {}, caller: DIRECT });
      if (ev.type === "tool_call_delta") return delta({ type: "input_json_delta", partial_json: ev.arguments });
      return stop();
    },
    closing: (_i, final) => {
      const u = anthropicUsage(final.usage);
      return [
        ...stop(),
        {
          type: "message_delta", delta: { stop_reason: stopReason(final), stop_sequence: final.stopSequence ?? null, stop_details: null, container: null },
          usage: { input_tokens: u.input_tokens, output_tokens: u.output_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: u.cache_read_input_tokens, output_tokens_details: u.output_tokens_details, server_tool_use: null },
        },
        { type: "message_stop" },
      ] satisfies AnthropicStreamEvent[];
    },
    complete: (choices, usage) => {
      const c = choices[0]!;
      const content: ContentBlock[] = [
        ...(c.reasoning !== "" ? [{ type: "thinking" as const, thinking: omitThinking ? "" : c.reasoning, signature: "" }] : []),
        ...(c.text !== "" ? [{ type: "text" as const, text: c.text, citations: null }] : []),
        ...(c.toolCalls ?? []).map(toolUse),
      ];
      return message(content, anthropicUsage(usage), { reason: stopReason({ reason: c.finishReason, stopSequence: c.stopSequence }), sequence: c.stopSequence ?? null });
    },
    streamError: (err) => anthropicError(err, requestId),
    wire: TYPED_SSE,
  };
}

/** Anthropic's usage: the prompt split into what was evaluated and what was read from the KV cache. */
export function anthropicUsage(u: Usage): AnthropicUsage {
  return {
    input_tokens: u.promptTokens - u.cachedPromptTokens,
    output_tokens: u.completionTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: u.cachedPromptTokens,
    cache_creation: null,
    output_tokens_details: u.reasoningTokens !== undefined ? { thinking_tokens: u.reasoningTokens } : null,
    server_tool_use: null, service_tier: null, inference_geo: null, speed: null,
  };
}

function stopReason(final: Pick<FinalEvent, "reason" | "stopSequence">): AnthropicStopReason {
  switch (final.reason) {
    case "length": return "max_tokens";
    case "tool_calls": return "tool_use";
    default: return final.stopSequence !== undefined ? "stop_sequence" : "end_turn";
  }
}

/**
 * A call as a tool_use block, its arguments parsed. Arguments that are not JSON (a call cut short
 * by max_tokens) are `{}`: a streamed client got the partial text in input_json_delta events.
 */
function toolUse(call: ToolCall): ContentBlock {
  let input: unknown = {};
  try {
    input = JSON.parse(call.arguments);
  } catch { /* cut short */ }
  return { type: "tool_use", id: call.id, name: call.name, input, caller: DIRECT };
}
