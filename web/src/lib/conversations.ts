import type { Conversation, ConversationInput, ConversationList, ConversationMessage } from "../../../src/wire/conversation.ts";
import { apiFetch, apiJson } from "./api.ts";

/**
 * What this app keeps in a message's metadata (free-form JSON to the server). A type, not an
 * interface, so that it is a JSON record where the wire types take one.
 */
export type MessageMetadata = {
  model?: string;
  finish_reason?: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens?: number } | null;
  ttft_ms?: number | null;
  tokens_per_second?: number | null;
  /** A thinking model's reasoning, apart from the answer. */
  reasoning?: string;
};

/** A message as the server keeps it, or one not saved yet (no id). */
export interface Message extends Pick<ConversationMessage, "role" | "content">, Partial<Pick<ConversationMessage, "id" | "created_at">> {
  metadata?: MessageMetadata | null;
}

const path = (id: string) => `/v1/conversations/${encodeURIComponent(id)}`;

// No `limit`: the server's page size (its query schema does not coerce "50" to a number).
export const listConversations = (q: string, before?: string) => {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (before) params.set("before", before);
  return apiJson<ConversationList>(`/v1/conversations?${params}`);
};
export const getConversation = (id: string) => apiJson<Conversation>(path(id));
export const createConversation = (body: ConversationInput) => apiJson<Conversation>("/v1/conversations", { method: "POST", json: body });
export const patchConversation = (id: string, body: ConversationInput) => apiJson<Conversation>(path(id), { method: "PATCH", json: body });
export const deleteConversation = async (id: string) => { await apiFetch(path(id), { method: "DELETE" }); };

/** Messages as PATCH takes them: role, content and metadata (the server gives new ids). */
export const plainMessages = (messages: Message[]) =>
  messages.map((m) => ({ role: m.role, content: m.content, ...(m.metadata ? { metadata: m.metadata } : {}) }));
