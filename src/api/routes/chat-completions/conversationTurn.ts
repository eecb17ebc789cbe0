import type { FastifyRequest } from "fastify";
import type { ChatMessage } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import type { NewMessage } from "../../../store/ConversationStore.ts";
import { isCompleted, type Outcome } from "../../respond.ts";
import { timingsJson, usageJson } from "../common.ts";
import { viewerOf } from "../conversations.ts";
import type { RouteDeps } from "../deps.ts";
import type { ChatCompletionRequest } from "./schema.ts";

/** A chat request that continues a conversation: its history, the body with the conversation's settings, and what keeps the turn. */
export interface ConversationTurn {
  history: ChatMessage[];
  body: ChatCompletionRequest;
  keep: (outcome: Outcome) => Promise<void>;
}

/**
 * Reads the conversation a chat request names (404 when it is not the caller's), and prepares
 * the turn: its system prompt and messages go first; its settings fill the fields the request
 * leaves out; once the completion ends with some text (or normally), the request's messages and
 * the reply are added to it.
 */
export async function conversationTurn(deps: RouteDeps, request: FastifyRequest, body: ChatCompletionRequest): Promise<ConversationTurn> {
  const store = deps.conversations;
  const id = body.conversation!;
  if (!store) throw errors.conversationNotFound(id);
  if ((body.n ?? 1) > 1) throw errors.invalidRequest("'n' must be 1 when 'conversation' is given: a conversation keeps one reply.", "n");
  const fresh = body.messages.map((m, i): NewMessage => {
    if (m.role === "tool" || (m.tool_calls != null && m.tool_calls.length > 0)) {
      throw errors.invalidRequest("A conversation keeps text messages only; tool calls and tool results cannot be added to one.", `messages.[${i}].role`);
    }
    const content = typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text ?? "").join("\n");
    return { role: m.role === "developer" ? "system" : m.role, content };
  });
  const viewer = viewerOf(request.caller);
  const conversation = await store.get(viewer, id, "conversation");
  const history: ChatMessage[] = [
    ...(conversation.systemPrompt ? [{ role: "system" as const, content: conversation.systemPrompt }] : []),
    ...conversation.messages.map((m) => ({ role: m.role, content: m.content })),
  ];
  const s = conversation.settings;
  const withSettings: ChatCompletionRequest = {
    ...body,
    ...(body.temperature == null && s.temperature != null ? { temperature: s.temperature } : {}),
    ...(body.top_p == null && s.top_p != null ? { top_p: s.top_p } : {}),
    ...(body.max_tokens == null && body.max_completion_tokens == null && s.max_tokens != null ? { max_tokens: s.max_tokens } : {}),
  };
  return {
    history,
    body: withSettings,
    async keep({ text, final }) {
      if (text === "" && !(final && isCompleted(final.reason))) return; // failed or cancelled before any text
      const t = final ? timingsJson(final.timings) : null;
      const metadata = {
        model: body.model,
        finish_reason: final?.reason ?? null,
        ...(final ? { usage: usageJson(final.usage), ttft_ms: Math.round(final.timings.queueMs + final.timings.promptMs), tokens_per_second: t?.predicted_per_second ?? null } : {}),
      };
      await store.append(viewer, id, [...fresh, { role: "assistant", content: text, metadata }]);
    },
  };
}
