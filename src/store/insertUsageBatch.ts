import type { Queryable } from "./Store.ts";
import type { UsageRow } from "./usageRow.ts";

/**
 * One statement, so all or nothing, with the same SQL (and plan) whatever the batch size: the rows
 * travel as one array per column. The batch id is recorded in the same statement: if an earlier
 * attempt of this batch committed (its answer lost with the connection), nothing is inserted again.
 * A request id already in the log (a row replayed from the journal after a crash) is skipped.
 */
const INSERT = `
  WITH batch AS (
    INSERT INTO usage_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING batch_id
  )
  INSERT INTO usage_log (ts, request_id, key_name, model, route, status, finish_reason, prompt_tokens, cached_tokens,
    completion_tokens, queue_ms, ttft_ms, duration_ms, error_type, user_id, cache_hit)
  SELECT * FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::int[],
    $10::int[], $11::int[], $12::real[], $13::real[], $14::real[], $15::text[], $16::text[], $17::bool[])
  WHERE EXISTS (SELECT 1 FROM batch)
  ON CONFLICT (request_id) DO NOTHING`;

/** Writes a batch once: returns the rows inserted, 0 if this batch id was written before. */
export async function insertUsageBatch(db: Queryable, batchId: string, rows: readonly UsageRow[]): Promise<number> {
  const column = <K extends keyof UsageRow>(k: K) => rows.map((r) => r[k]);
  const r = await db.query(INSERT, [
    batchId,
    rows.map((r) => r.ts.toISOString()),
    column("requestId"), column("keyName"), column("model"), column("route"), column("status"), column("finishReason"),
    column("promptTokens"), column("cachedTokens"), column("completionTokens"), column("queueMs"), column("ttftMs"),
    column("durationMs"), column("errorType"), column("userId"), column("cacheHit"),
  ]);
  return r.rowCount;
}
