import type { ChatMessage } from "../engine/types.ts";
import type { ResponseObject } from "../wire/response.ts";
import { errors } from "../errors.ts";
import type { Viewer } from "./ConversationStore.ts";
import type { Store } from "./Store.ts";
import { storeError } from "./storeErrors.ts";

/** A stored response: the object as answered, and the conversation a continuation starts from. */
export interface StoredResponse {
  body: ResponseObject;
  conversation: ChatMessage[];
}

export interface NewStoredResponse extends StoredResponse {
  id: string;
  owner: string | null;
  model: string;
  previousResponseId: string | null;
}

/**
 * OpenAI Responses API objects kept with `store: true`, per owner (an API key's name): another
 * owner's response is answered as if it did not exist. Each row holds its whole conversation, so a
 * continuation reads one row however long the chain.
 */
export class ResponseStore {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async save(r: NewStoredResponse): Promise<void> {
    await this.#run(() => this.#store.query(
      "INSERT INTO responses (id, owner, model, previous_response_id, body, conversation) VALUES ($1, $2, $3, $4, $5, $6)",
      [r.id, r.owner, r.model, r.previousResponseId, JSON.stringify(r.body), JSON.stringify(r.conversation)],
    ));
  }

  /** The response, if the viewer may see it; else a 404 (param: where the id came from). */
  async get(viewer: Viewer, id: string, param: string | null = null): Promise<StoredResponse> {
    const mine = ownedBy(viewer);
    const { rows } = await this.#run(() => this.#store.query<{ body: string; conversation: string }>(`SELECT body, conversation FROM responses WHERE id = $1${mine.sql}`, [id, ...mine.params]));
    const row = rows[0];
    if (!row) throw errors.responseNotFound(id, param);
    return { body: JSON.parse(row.body) as ResponseObject, conversation: JSON.parse(row.conversation) as ChatMessage[] };
  }

  async delete(viewer: Viewer, id: string): Promise<void> {
    const mine = ownedBy(viewer);
    const { rowCount } = await this.#run(() => this.#store.query(`DELETE FROM responses WHERE id = $1${mine.sql}`, [id, ...mine.params]));
    if (rowCount === 0) throw errors.responseNotFound(id);
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw storeError(err);
    }
  }
}

/** The condition (after `id = $1`) that keeps a viewer to its own responses. */
function ownedBy(viewer: Viewer): { sql: string; params: string[] } {
  if (viewer.all) return { sql: "", params: [] };
  return viewer.owner === null ? { sql: " AND owner IS NULL", params: [] } : { sql: " AND owner = $2", params: [viewer.owner] };
}
