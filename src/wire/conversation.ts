import { Type, type Static } from "typebox";

/** Caps on what one conversation holds. */
export const CONVERSATION_LIMITS = { maxTitle: 200, maxMessages: 10_000, maxContent: 1024 * 1024, defaultTitleChars: 60, maxList: 100, defaultList: 20, snippetChars: 160 } as const;
const CAP = CONVERSATION_LIMITS;

export const ConversationRole = Type.Enum(["system", "user", "assistant"]);
export type ConversationRole = Static<typeof ConversationRole>;

/** Sampling settings a conversation keeps for its chat requests. */
export const ConversationSettings = Type.Object({
  temperature: Type.Optional(Type.Number()),
  max_tokens: Type.Optional(Type.Integer()),
  top_p: Type.Optional(Type.Number()),
});
export type ConversationSettings = Static<typeof ConversationSettings>;

/** Free-form JSON the client keeps with a message (the web app: the model, usage and timings). */
const Metadata = Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]);

export const ConversationMessage = Type.Object({
  id: Type.String(),
  role: ConversationRole,
  content: Type.String(),
  created_at: Type.Integer(),
  metadata: Metadata,
});
export type ConversationMessage = Static<typeof ConversationMessage>;

// Fastify writes a response in its schema's order: these come first in both, as they always did.
const head = { id: Type.String(), object: Type.Literal("conversation"), title: Type.String(), model: Type.Union([Type.String(), Type.Null()]) };

/** GET /v1/conversations/{id}: a conversation's export, which POST /v1/conversations takes back. */
export const Conversation = Type.Object({
  ...head,
  system_prompt: Type.Union([Type.String(), Type.Null()]),
  settings: ConversationSettings,
  created_at: Type.Integer(),
  updated_at: Type.Integer(),
  messages: Type.Array(ConversationMessage),
});
export type Conversation = Static<typeof Conversation>;

export const ConversationSummary = Type.Object({
  ...head,
  created_at: Type.Integer(),
  updated_at: Type.Integer(),
  message_count: Type.Integer(),
  /** With a search: the matching message's text around the match. */
  snippet: Type.Optional(Type.String()),
});
export type ConversationSummary = Static<typeof ConversationSummary>;

export const ConversationList = Type.Object({ object: Type.Literal("list"), data: Type.Array(ConversationSummary), has_more: Type.Boolean() });
export type ConversationList = Static<typeof ConversationList>;

export const ConversationDeleted = Type.Object({ id: Type.String(), object: Type.Literal("conversation.deleted"), deleted: Type.Literal(true) });
export type ConversationDeleted = Static<typeof ConversationDeleted>;

/** A setting set to null is removed. */
const SettingsInput = Type.Object({
  temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
  max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1 << 30 }), Type.Null()])),
  top_p: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
}, { additionalProperties: false });

export const MessageInput = Type.Object({
  role: ConversationRole,
  content: Type.String({ maxLength: CAP.maxContent }),
  metadata: Type.Optional(Metadata),
  // An exported conversation's messages carry these; they are given new ones.
  id: Type.Optional(Type.Unknown()),
  created_at: Type.Optional(Type.Unknown()),
});
export type MessageInput = Static<typeof MessageInput>;

/**
 * The body of POST /v1/conversations (a new conversation, or an export posted back: its id, object
 * and times are ignored) and of PATCH /v1/conversations/{id} (`messages` replaces the whole list).
 */
export const ConversationInput = Type.Object({
  title: Type.Optional(Type.String({ minLength: 1, maxLength: CAP.maxTitle })),
  model: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Null()])),
  system_prompt: Type.Optional(Type.Union([Type.String({ maxLength: CAP.maxContent }), Type.Null()])),
  settings: Type.Optional(Type.Union([SettingsInput, Type.Null()])),
  messages: Type.Optional(Type.Array(MessageInput, { maxItems: CAP.maxMessages })),
});
export type ConversationInput = Static<typeof ConversationInput>;
