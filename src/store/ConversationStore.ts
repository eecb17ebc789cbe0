import { randomBytes } from "node:crypto";
import { errors } from "../errors.ts";
import type { Queryable, Store } from "./Store.ts";
import { storeError } from "./storeErrors.ts";
import { CONVERSATION_LIMITS, type ConversationRole, type ConversationSettings } from "../wire/conversation.ts";

export interface ConversationMessage {
  id: string;
  role: ConversationRole;
  content: string;
  createdAt: Date;
  metadata: Record<string, unknown> | null;
}

export interface Conversation {
  id: string;
  owner: string | null;
  title: string;
  model: string | null;
  systemPrompt: string | null;
  settings: ConversationSettings;
  createdAt: Date;
  updatedAt: Date;
  messages: ConversationMessage[];
}

export interface ConversationSummary {
  id: string;
  title: string;
  model: string | null;
  createdAt: Date;
  updatedAt: Date;
  messageCount: number;
  /** With a search: the matching message's text around the match. */
  snippet?: string;
}

export interface NewMessage { role: ConversationRole; content: string; metadata?: Record<string, unknown> | null }

export interface ConversationFields {
  title?: string;
  model?: string | null;
  systemPrompt?: string | null;
  settings?: ConversationSettings;
}

/** Who asks: the admin sees every conversation; anyone else only the owner's (a key's name, or null without a key). */
export type Viewer = { all: true } | { all: false; owner: string | null };

interface ConversationRow {
  id: string; owner: string | null; title: string; model: string | null; system_prompt: string | null;
  settings: ConversationSettings; message_count: number; created_at: Date; updated_at: Date;
}
interface MessageRow { id: string; role: ConversationRole; content: string; metadata: Record<string, unknown> | null; created_at: Date }

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

/** The title a conversation gets when none is given: its first user message's first 60 characters, or "New chat". */
export function defaultTitle(messages: readonly NewMessage[]): string {
  const first = messages.find((m) => m.role === "user")?.content.replace(/\s+/g, " ").trim();
  return first ? Array.from(first).slice(0, CONVERSATION_LIMITS.defaultTitleChars).join("") : "New chat";
}

/** `%`, `_` and `\` taken literally in a LIKE pattern (escape character `\`). */
const likeLiteral = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The web app's conversations, with their messages, per owner. The same SQL on PostgreSQL and
 * PGlite. A conversation that is not the viewer's is answered as if it did not exist (404).
 */
export class ConversationStore {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async create(owner: string | null, fields: ConversationFields, messages: readonly NewMessage[]): Promise<Conversation> {
    checkCount(messages.length);
    const id = newId("conv");
    await this.#run((tx) => this.#insert(tx, id, owner, fields, messages));
    return this.get({ all: true }, id);
  }

  async get(viewer: Viewer, id: string, param: string | null = "id"): Promise<Conversation> {
    return this.#run(async (tx) => {
      const row = await this.#row(tx, viewer, id, param);
      const { rows } = await tx.query<MessageRow>("SELECT id, role, content, metadata, created_at FROM conversation_messages WHERE conversation_id = $1 ORDER BY seq", [id]);
      return toConversation(row, rows);
    });
  }

  /** Newest updated first; `q` matches the title or any message's text, case-insensitively; `before`: a conversation id from the previous page. */
  async list(viewer: Viewer, opts: { q?: string; limit?: number; before?: string }): Promise<{ data: ConversationSummary[]; hasMore: boolean }> {
    const limit = Math.min(Math.max(opts.limit ?? CONVERSATION_LIMITS.defaultList, 1), CONVERSATION_LIMITS.maxList);
    const params: unknown[] = [];
    const where: string[] = [];
    if (!viewer.all) where.push(viewer.owner === null ? "c.owner IS NULL" : `c.owner = $${params.push(viewer.owner)}`);
    if (opts.before) where.push(`(c.updated_at, c.id) < (SELECT b.updated_at, b.id FROM conversations b WHERE b.id = $${params.push(opts.before)})`);
    let snippet = "NULL";
    if (opts.q) {
      const q = `$${params.push(opts.q)}`;
      const pattern = `$${params.push(`%${likeLiteral(opts.q)}%`)}`;
      const matching = `FROM conversation_messages m WHERE m.conversation_id = c.id AND m.content ILIKE ${pattern} ESCAPE '\\'`;
      where.push(`(c.title ILIKE ${pattern} ESCAPE '\\' OR EXISTS (SELECT 1 ${matching}))`);
      // Around the first match of the first matching message; only that part of the text is read back.
      snippet = `(SELECT substr(m.content, greatest(strpos(lower(m.content), lower(${q})) - 40, 1), ${CONVERSATION_LIMITS.snippetChars}) ${matching} ORDER BY m.seq LIMIT 1)`;
    }
    const sql = `SELECT c.id, c.title, c.model, c.created_at, c.updated_at, c.message_count, ${snippet} AS snippet
      FROM conversations c ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY c.updated_at DESC, c.id DESC LIMIT ${limit + 1}`;
    const { rows } = await this.#run((tx) => tx.query<ConversationRow & { snippet: string | null }>(sql, params));
    return {
      data: rows.slice(0, limit).map((r) => ({
        id: r.id, title: r.title, model: r.model, createdAt: r.created_at, updatedAt: r.updated_at, messageCount: Number(r.message_count),
        ...(r.snippet != null ? { snippet: r.snippet } : {}),
      })),
      hasMore: rows.length > limit,
    };
  }

  /** Changes the fields given; `messages` replaces the whole list. */
  async update(viewer: Viewer, id: string, fields: ConversationFields, messages?: readonly NewMessage[]): Promise<Conversation> {
    if (messages) checkCount(messages.length);
    await this.#run(async (tx) => {
      await this.#row(tx, viewer, id, "id", true);
      const sets: string[] = ["updated_at = clock_timestamp()"];
      const params: unknown[] = [id];
      if (fields.title !== undefined) sets.push(`title = $${params.push(fields.title)}`);
      if (fields.model !== undefined) sets.push(`model = $${params.push(fields.model)}`);
      if (fields.systemPrompt !== undefined) sets.push(`system_prompt = $${params.push(fields.systemPrompt)}`);
      if (fields.settings !== undefined) sets.push(`settings = $${params.push(JSON.stringify(fields.settings))}::jsonb`);
      if (messages) {
        await tx.query("DELETE FROM conversation_messages WHERE conversation_id = $1", [id]);
        await insertMessages(tx, id, 0, messages);
        sets.push(`message_count = $${params.push(messages.length)}`);
      }
      await tx.query(`UPDATE conversations SET ${sets.join(", ")} WHERE id = $1`, params);
    });
    return this.get(viewer, id);
  }

  async delete(viewer: Viewer, id: string): Promise<void> {
    await this.#run(async (tx) => {
      await this.#row(tx, viewer, id, "id", true);
      await tx.query("DELETE FROM conversations WHERE id = $1", [id]);
    });
  }

  /** Adds messages at the end (a chat turn). Refused past the message cap. */
  async append(viewer: Viewer, id: string, messages: readonly NewMessage[]): Promise<void> {
    await this.#run(async (tx) => {
      const row = await this.#row(tx, viewer, id, "conversation", true);
      checkCount(Number(row.message_count) + messages.length);
      await insertMessages(tx, id, Number(row.message_count), messages);
      await tx.query("UPDATE conversations SET message_count = message_count + $2, updated_at = clock_timestamp() WHERE id = $1", [id, messages.length]);
    });
  }

  async #insert(tx: Queryable, id: string, owner: string | null, fields: ConversationFields, messages: readonly NewMessage[]): Promise<void> {
    await tx.query(
      "INSERT INTO conversations (id, owner, title, model, system_prompt, settings, message_count, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, clock_timestamp(), clock_timestamp())",
      [id, owner, fields.title ?? defaultTitle(messages), fields.model ?? null, fields.systemPrompt ?? null, JSON.stringify(fields.settings ?? {}), messages.length],
    );
    await insertMessages(tx, id, 0, messages);
  }

  /** The viewer's conversation row (locked for a change), or 404. */
  async #row(tx: Queryable, viewer: Viewer, id: string, param: string | null, lock = false): Promise<ConversationRow> {
    const { rows } = await tx.query<ConversationRow>(
      `SELECT id, owner, title, model, system_prompt, settings, message_count, created_at, updated_at FROM conversations WHERE id = $1${lock ? " FOR UPDATE" : ""}`, [id]);
    const row = rows[0];
    if (!row || (!viewer.all && row.owner !== viewer.owner)) throw errors.conversationNotFound(id, param);
    return row;
  }

  async #run<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.#store.transaction(fn);
    } catch (err) {
      throw storeError(err);
    }
  }
}

function checkCount(n: number): void {
  if (n > CONVERSATION_LIMITS.maxMessages) throw errors.invalidRequest(`A conversation holds at most ${CONVERSATION_LIMITS.maxMessages} messages.`, "messages");
}

/** Inserts messages from place `seq` on, in statements of at most 500 rows. */
async function insertMessages(tx: Queryable, conversationId: string, seq: number, messages: readonly NewMessage[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 500) {
    const part = messages.slice(start, start + 500);
    const params: unknown[] = [conversationId];
    const values = part.map((m, i) => {
      const at = params.push(seq + start + i, newId("msg"), m.role, m.content, m.metadata == null ? null : JSON.stringify(m.metadata));
      return `($1, $${at - 4}, $${at - 3}, $${at - 2}, $${at - 1}, $${at}::jsonb, clock_timestamp())`;
    });
    await tx.query(`INSERT INTO conversation_messages (conversation_id, seq, id, role, content, metadata, created_at) VALUES ${values.join(", ")}`, params);
  }
}

function toConversation(r: ConversationRow, messages: MessageRow[]): Conversation {
  return {
    id: r.id, owner: r.owner, title: r.title, model: r.model, systemPrompt: r.system_prompt, settings: r.settings ?? {},
    createdAt: r.created_at, updatedAt: r.updated_at,
    messages: messages.map((m) => ({ id: m.id, role: m.role, content: m.content, createdAt: m.created_at, metadata: m.metadata })),
  };
}
