import { apiFetch, apiJson } from "./api.ts";

export interface MessageMetadata {
  model?: string;
  finish_reason?: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens?: number } | null;
  ttft_ms?: number | null;
  tokens_per_second?: number | null;
}

export interface Message { id?: string; role: "user" | "assistant" | "system"; content: string; created_at?: number; metadata?: MessageMetadata | null }

export interface Settings { temperature?: number; max_tokens?: number; top_p?: number }

export interface Conversation {
  id: string;
  object: "conversation";
  title: string;
  model: string | null;
  system_prompt: string | null;
  settings: Settings | null;
  created_at: number;
  updated_at: number;
  messages: Message[];
}

export interface ConversationSummary { id: string; title: string; model: string | null; created_at: number; updated_at: number; message_count: number; snippet?: string }

const path = (id: string) => `/v1/conversations/${encodeURIComponent(id)}`;

// No `limit`: the server's page size (its query schema does not coerce "50" to a number).
export const listConversations = (q: string, before?: string) => {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (before) params.set("before", before);
  return apiJson<{ data: ConversationSummary[]; has_more: boolean }>(`/v1/conversations?${params}`);
};
export const getConversation = (id: string) => apiJson<Conversation>(path(id));
export const createConversation = (body: Partial<Omit<Conversation, "id" | "object">>) =>
  apiJson<Conversation>("/v1/conversations", { method: "POST", json: body });
export const patchConversation = (id: string, body: Partial<Pick<Conversation, "title" | "model" | "system_prompt" | "settings" | "messages">>) =>
  apiJson<Conversation>(path(id), { method: "PATCH", json: body });
export const deleteConversation = async (id: string) => { await apiFetch(path(id), { method: "DELETE" }); };

/** Messages as PATCH takes them: role, content and metadata (the server gives new ids). */
export const plainMessages = (messages: Message[]) =>
  messages.map((m) => ({ role: m.role, content: m.content, ...(m.metadata ? { metadata: m.metadata } : {}) }));
