import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errors } from "../../errors.ts";
import type { UsageReportQuery } from "../../store/usageReport.ts";
import { UsageGroupBy, UsageReport, type UsageReportRow } from "../../wire/usageReport.ts";
import { StoredText } from "./common.ts";

const UsageQuery = Type.Object({
  /** ISO 8601 time or Unix seconds; default: 24 hours before `to`. */
  from: Type.Optional(Type.String({ maxLength: 64 })),
  /** ISO 8601 time or Unix seconds; default: now. */
  to: Type.Optional(Type.String({ maxLength: 64 })),
  group_by: Type.Union(UsageGroupBy.anyOf, { default: "model" }),
  /** Only this key's requests (the admin's choice; a key always sees only its own). */
  key: Type.Optional(StoredText({ minLength: 1, maxLength: 64 })),
});

/**
 * GET /v1/usage?from&to&group_by=key|model|day|route: requests, tokens, errors, cancellations and cache
 * hits from the usage log. A key sees its own requests only.
 */
export function usageRoute(app: FastifyInstance, report: (q: UsageReportQuery) => Promise<UsageReportRow[]>): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get("/v1/usage", { schema: { querystring: UsageQuery, response: { 200: UsageReport } } }, async (request) => {
    const q = request.query;
    const to = q.to !== undefined ? time(q.to, "to") : new Date();
    const from = q.from !== undefined ? time(q.from, "from") : new Date(to.getTime() - 86_400_000);
    const { caller } = request;
    const key = caller.key ? caller.key.name : q.key;
    const rows = await report({ from, to, groupBy: q.group_by, ...(key !== undefined ? { key } : {}) });
    return { object: "list" as const, from: from.toISOString(), to: to.toISOString(), group_by: q.group_by, data: rows };
  });
}

function time(value: string, param: string): Date {
  const date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) throw errors.invalidRequest(`Invalid value for '${param}': use ISO 8601 or Unix seconds.`, param);
  return date;
}
