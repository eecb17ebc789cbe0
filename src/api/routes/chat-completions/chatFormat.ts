import type { GeneratedTokenLogprob, ToolCallEvent, Usage } from "../../../engine/types.ts";
import type { ResponseFormat } from "../../respond.ts";
import type { ChatCompletion, ChatLogprobs, OpenAIFinishReason, ToolCall } from "../../../wire/chatCompletion.ts";
import type { ChatCompletionChunk, ChatDelta } from "../../../wire/chatCompletionChunk.ts";
import { timingsJson, unixNow, usageJson } from "../common.ts";

/**
 * OpenAI's chat.completion and chat.completion.chunk objects. Tool calls, forced or written by the
 * model, come after the content: streamed per call, a first tool_calls delta with its index, id,
 * type, name and empty arguments, then its arguments as they come; in the message as `tool_calls`,
 * content null when there was no text. `forced`: the answer is tool calls only, so its content is
 * null from the first chunk (a text event then only carries logprobs).
 */
export function chatFormat(id: string, model: string, includeUsage: boolean, forced: boolean): ResponseFormat {
  const created = unixNow();
  const chunk = (index: number, delta: ChatDelta, finishReason: OpenAIFinishReason | null, logprobs?: GeneratedTokenLogprob[]): ChatCompletionChunk => ({
    id, object: "chat.completion.chunk", created, model, system_fingerprint: null,
    choices: [{ index, delta, logprobs: logprobs ? chatLogprobs(logprobs) : null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  return {
    opening: (index) => chunk(index, { role: "assistant", content: forced ? null : "", refusal: null }, null),
    chunk: (index, text, logprobs) => chunk(index, forced ? {} : { content: text }, null, logprobs),
    reasoning: (index, text) => chunk(index, { reasoning_content: text }, null),
    toolCall: (index, ev) => ev.type === "tool_call_done" ? null : chunk(index, { tool_calls: [toolCallDelta(ev)] }, null),
    closing: (index, final) => ({ ...chunk(index, {}, final.reason), timings: timingsJson(final.timings) }),
    usageChunk: (usage: Usage): ChatCompletionChunk => ({ id, object: "chat.completion.chunk", created, model, system_fingerprint: null, choices: [], usage: usageJson(usage) }),
    complete: (choices, usage, timings): ChatCompletion => ({
      id, object: "chat.completion", created, model, system_fingerprint: null,
      choices: choices.map((c, index) => {
        const calls = c.toolCalls ?? [];
        return {
          index,
          message: {
            role: "assistant", content: c.text === "" && (forced || calls.length > 0) ? null : c.text,
            ...(c.reasoning ? { reasoning_content: c.reasoning } : {}),
            refusal: null,
            ...(calls.length > 0 ? { tool_calls: calls.map((call): ToolCall => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } })) } : {}),
          },
          logprobs: c.logprobs ? chatLogprobs(c.logprobs) : null,
          finish_reason: c.finishReason,
        };
      }),
      usage: usageJson(usage),
      timings: timingsJson(timings),
    }),
  };
}

function toolCallDelta(ev: Exclude<ToolCallEvent, { type: "tool_call_done" }>): NonNullable<ChatDelta["tool_calls"]>[number] {
  return ev.type === "tool_call_start"
    ? { index: ev.index, id: ev.id, type: "function", function: { name: ev.name, arguments: "" } }
    : { index: ev.index, function: { arguments: ev.arguments } };
}

/** OpenAI's chat `logprobs` object for some tokens. */
function chatLogprobs(tokens: readonly GeneratedTokenLogprob[]): ChatLogprobs {
  return {
    content: tokens.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes, top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes })) })),
    refusal: null,
  };
}
