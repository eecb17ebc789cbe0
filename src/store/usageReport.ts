import { errors } from "../errors.ts";
import type { Queryable } from "./Store.ts";
import { storeError } from "./storeErrors.ts";
import type { UsageGroupBy, UsageReportRow } from "../wire/usageReport.ts";

export interface UsageReportQuery {
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
  groupBy: UsageGroupBy;
  /** Only this key's requests. */
  key?: string;
}

const GROUPS: Record<UsageGroupBy, { expr: string; order: string }> = {
  // Busiest first; ties by name so the order is stable.
  key: { expr: "key_name", order: "requests DESC, 1 ASC NULLS LAST" },
  model: { expr: "model", order: "requests DESC, 1 ASC" },
  // UTC whatever the session's time zone; in date order.
  day: { expr: "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD')", order: "1 ASC" },
  route: { expr: "route", order: "requests DESC, 1 ASC" },
};

/**
 * Totals per key, model, day or route over [from, to). The time range (and key) select rows through the
 * `usage_log` indexes on ts, (key_name, ts) and (model, ts), so a report over a short range stays
 * fast however long the log is.
 */
export async function usageReport(db: Queryable, q: UsageReportQuery): Promise<UsageReportRow[]> {
  const group = GROUPS[q.groupBy];
  if (!group) throw errors.invalidRequest("group_by must be one of key, model, day, route.", "group_by");
  if (!(q.from instanceof Date) || Number.isNaN(q.from.getTime())) throw errors.invalidRequest("from must be a valid time.", "from");
  if (!(q.to instanceof Date) || Number.isNaN(q.to.getTime())) throw errors.invalidRequest("to must be a valid time.", "to");
  const params: unknown[] = [q.from.toISOString(), q.to.toISOString()];
  const byKey = q.key === undefined ? "" : `AND key_name = $${params.push(q.key)}`;
  const sql = `
    SELECT ${group.expr} AS "group",
      count(*) AS requests,
      coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
      coalesce(sum(cached_tokens), 0) AS cached_tokens,
      coalesce(sum(completion_tokens), 0) AS completion_tokens,
      count(*) FILTER (WHERE status >= 400 AND finish_reason IS DISTINCT FROM 'cancelled') AS errors,
      count(*) FILTER (WHERE finish_reason = 'cancelled') AS cancelled,
      count(*) FILTER (WHERE cache_hit) AS cache_hits
    FROM usage_log
    WHERE ts >= $1::timestamptz AND ts < $2::timestamptz ${byKey}
    GROUP BY 1
    ORDER BY ${group.order}`;
  try {
    return (await db.query<UsageReportRow>(sql, params)).rows;
  } catch (err) {
    throw storeError(err);
  }
}
