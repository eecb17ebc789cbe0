import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errors } from "../../errors.ts";
import type { Caller } from "../auth.ts";
import type { Conversation, ConversationFields, ConversationStore, ConversationSummary, NewMessage, Viewer } from "../../store/ConversationStore.ts";
import * as wire from "../../wire/conversation.ts";

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const ListQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 256 })),
  /** 1 to 100 (query strings are not coerced: checked as text). */
  limit: Type.Optional(Type.String({ pattern: "^(100|[1-9][0-9]?)$" })),
  before: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});

type Body = wire.ConversationInput;

const unix = (d: Date) => Math.floor(d.getTime() / 1000);

export const conversationJson = (c: Conversation): wire.Conversation => ({
  id: c.id,
  object: "conversation",
  title: c.title,
  model: c.model,
  system_prompt: c.systemPrompt,
  settings: c.settings,
  created_at: unix(c.createdAt),
  updated_at: unix(c.updatedAt),
  messages: c.messages.map((m) => ({ id: m.id, role: m.role, content: m.content, created_at: unix(m.createdAt), metadata: m.metadata })),
});

const summaryJson = (c: ConversationSummary): wire.ConversationSummary => ({
  id: c.id, object: "conversation", title: c.title, model: c.model, created_at: unix(c.createdAt), updated_at: unix(c.updatedAt),
  message_count: c.messageCount, ...(c.snippet !== undefined ? { snippet: c.snippet } : {}),
});

/** The admin sees every conversation; a key its own; without a key, those made without one. */
export function viewerOf(caller: Caller): Viewer {
  return caller.admin ? { all: true } : { all: false, owner: caller.key?.name ?? null };
}

function fieldsOf(b: Body): ConversationFields {
  return {
    ...(b.title !== undefined ? { title: b.title } : {}),
    ...(b.model !== undefined ? { model: b.model } : {}),
    ...(b.system_prompt !== undefined ? { systemPrompt: b.system_prompt } : {}),
    ...(b.settings !== undefined ? { settings: settingsOf(b.settings) } : {}),
  };
}

/** Settings without the ones set to null. */
function settingsOf(s: Body["settings"]): ConversationFields["settings"] {
  return Object.fromEntries(Object.entries(s ?? {}).filter(([, v]) => v != null));
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000, UTF-8 has no encoding for a lone surrogate (the
 * driver would silently store U+FFFD; jsonb refuses its \\u escape), and jsonb refuses deep nesting:
 * each would fail in the database as a 500, or lose the text. Refused here, naming the field.
 */
function refuseUnstorable(b: Body): void {
  const fields: [string, unknown][] = [["title", b.title], ["model", b.model], ["system_prompt", b.system_prompt]];
  (b.messages ?? []).forEach((m, i) => fields.push([`messages[${i}].content`, m.content], [`messages[${i}].metadata`, m.metadata]));
  for (const [field, value] of fields) {
    const problem = unstorable(value);
    if (problem) throw errors.invalidRequest(`'${field}' ${problem}, which cannot be stored.`, field);
  }
}

/** Metadata is free-form JSON, bounded in depth (PostgreSQL's own limit is its stack). */
const MAX_METADATA_DEPTH = 32;

/** Why a string, or any string in a JSON value (keys included), cannot be stored; null if it can. */
function unstorable(root: unknown): string | null {
  // Iterative: a body may nest far deeper than the call stack (JSON.parse does not recurse).
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string") {
      if (v.includes("\0")) return "contains a NUL character (U+0000)";
      if (!v.isWellFormed()) return "contains an unpaired surrogate";
    } else if (typeof v === "object" && v !== null) {
      if (depth >= MAX_METADATA_DEPTH) return `nests deeper than ${MAX_METADATA_DEPTH} levels`;
      for (const [k, x] of Object.entries(v)) stack.push([k, depth], [x, depth + 1]);
    }
  }
  return null;
}

const messagesOf = (list: NonNullable<Body["messages"]>): NewMessage[] =>
  list.map((m) => ({ role: m.role, content: m.content, ...(m.metadata != null ? { metadata: m.metadata } : {}) }));

/**
 * /v1/conversations: the web app's chats, kept per owner. GET one is its export; POST takes an
 * export back (import). PATCH `messages` replaces the whole list (edit, regenerate).
 */
export function conversationsRoute(app: FastifyInstance, store: ConversationStore): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.post("/v1/conversations", { schema: { body: wire.ConversationInput, response: { 201: wire.Conversation } } }, async (request, reply) => {
    const b = request.body;
    refuseUnstorable(b);
    const created = await store.create(request.caller.key?.name ?? null, fieldsOf(b), messagesOf(b.messages ?? []));
    return reply.status(201).send(conversationJson(created));
  });
  typed.get("/v1/conversations", { schema: { querystring: ListQuery, response: { 200: wire.ConversationList } } }, async (request) => {
    const { q, limit, before } = request.query;
    const page = await store.list(viewerOf(request.caller), { ...(q ? { q } : {}), ...(limit !== undefined ? { limit: Number(limit) } : {}), ...(before ? { before } : {}) });
    return { object: "list" as const, data: page.data.map(summaryJson), has_more: page.hasMore };
  });
  typed.get("/v1/conversations/:id", { schema: { params: IdParams, response: { 200: wire.Conversation } } }, async (request) => conversationJson(await store.get(viewerOf(request.caller), request.params.id)));
  typed.patch("/v1/conversations/:id", { schema: { params: IdParams, body: wire.ConversationInput, response: { 200: wire.Conversation } } }, async (request) => {
    const b = request.body;
    refuseUnstorable(b);
    return conversationJson(await store.update(viewerOf(request.caller), request.params.id, fieldsOf(b), b.messages ? messagesOf(b.messages) : undefined));
  });
  typed.delete("/v1/conversations/:id", { schema: { params: IdParams, response: { 200: wire.ConversationDeleted } } }, async (request) => {
    await store.delete(viewerOf(request.caller), request.params.id);
    return { id: request.params.id, object: "conversation.deleted" as const, deleted: true as const };
  });
}
