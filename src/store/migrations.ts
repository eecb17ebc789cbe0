/**
 * Hearth's schema, as an ordered list of steps. A step is never edited once released: a change is
 * a new step with the next version. The same SQL runs on PostgreSQL and PGlite.
 */
export interface Migration {
  version: number;
  name: string;
  /** One or more statements. */
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "api_keys",
    sql: `
      CREATE TABLE api_keys (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        -- sha256 of the key, hex; the key itself is never stored.
        key_hash text NOT NULL UNIQUE,
        -- The key's first 8 characters, to tell keys apart in listings.
        prefix text NOT NULL,
        -- NULL: every model.
        models text[],
        -- NULL: unlimited.
        rpm integer CHECK (rpm > 0),
        tpm integer CHECK (tpm > 0),
        max_parallel integer CHECK (max_parallel > 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
      -- A name can be reused once the key that had it is revoked.
      CREATE UNIQUE INDEX api_keys_name_active ON api_keys (name) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 2,
    name: "usage_log",
    sql: `
      CREATE TABLE usage_log (
        id bigserial PRIMARY KEY,
        ts timestamptz NOT NULL,
        request_id text NOT NULL,
        key_name text,
        model text NOT NULL,
        route text NOT NULL,
        status integer NOT NULL,
        finish_reason text,
        prompt_tokens integer NOT NULL,
        cached_tokens integer NOT NULL,
        completion_tokens integer NOT NULL,
        queue_ms real NOT NULL,
        ttft_ms real,
        duration_ms real NOT NULL,
        error_type text,
        user_id text,
        cache_hit boolean NOT NULL
      );
      CREATE INDEX usage_log_ts ON usage_log (ts);
      CREATE INDEX usage_log_key_ts ON usage_log (key_name, ts);
      CREATE INDEX usage_log_model_ts ON usage_log (model, ts);
      -- Batches already written: a batch retried after its first attempt did commit (the answer was
      -- lost with the connection) inserts nothing the second time.
      CREATE TABLE usage_batches (
        batch_id uuid PRIMARY KEY,
        written_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 3,
    name: "conversations",
    sql: `
      -- The web app's chats. owner: the API key's name that made it; NULL when made without a key.
      CREATE TABLE conversations (
        id text PRIMARY KEY,
        owner text,
        title text NOT NULL,
        model text,
        system_prompt text,
        settings jsonb NOT NULL DEFAULT '{}',
        message_count integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX conversations_owner_updated ON conversations (owner, updated_at DESC, id DESC);
      CREATE INDEX conversations_updated ON conversations (updated_at DESC, id DESC);
      CREATE TABLE conversation_messages (
        conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        -- The message's place in its conversation, from 0.
        seq integer NOT NULL,
        id text NOT NULL,
        role text NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content text NOT NULL,
        metadata jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (conversation_id, seq)
      );
    `,
  },
  {
    version: 4,
    name: "usage_request_id_unique",
    sql: `
      -- A row replayed from the usage journal after a crash may already be in the database (its
      -- batch committed just before): the unique index lets it be inserted with ON CONFLICT DO
      -- NOTHING. Rows from before this step may repeat an id (request ids restarted at req-1 with
      -- each process): the later ones get their row id appended, so none is lost.
      UPDATE usage_log u SET request_id = u.request_id || '#' || u.id
        WHERE EXISTS (SELECT 1 FROM usage_log o WHERE o.request_id = u.request_id AND o.id < u.id);
      CREATE UNIQUE INDEX usage_log_request_id ON usage_log (request_id);
    `,
  },
  {
    version: 5,
    name: "responses",
    sql: `
      -- OpenAI Responses API objects kept with store: true. owner: the API key's name; NULL without
      -- a key. body and conversation are JSON text, not jsonb: JSON escapes the NUL characters and
      -- unpaired surrogates a model or client may send, which jsonb cannot hold.
      CREATE TABLE responses (
        id text PRIMARY KEY,
        owner text,
        model text NOT NULL,
        previous_response_id text,
        -- The Response object as answered.
        body text NOT NULL,
        -- The chat messages through this response (its instructions left out), for previous_response_id.
        conversation text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX responses_owner_created ON responses (owner, created_at);
    `,
  },
];
