import { Type, type Static } from "typebox";

/** `key`: per API key name; `model`: per model; `day`: per UTC day (`2025-01-31`); `route`: per route, so per protocol (`/v1/messages`, `/api/chat`). */
export const UsageGroupBy = Type.Union([Type.Literal("key"), Type.Literal("model"), Type.Literal("day"), Type.Literal("route")]);
export type UsageGroupBy = Static<typeof UsageGroupBy>;

export const UsageReportRow = Type.Object({
  /** The key name (null: requests without a key), model id, UTC day or route. */
  group: Type.Union([Type.String(), Type.Null()]),
  requests: Type.Integer(),
  prompt_tokens: Type.Integer(),
  cached_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  /** Requests answered with an HTTP status of 400 or more; cancelled ones (499) are counted apart. */
  errors: Type.Integer(),
  /** Requests whose client went away before the end. */
  cancelled: Type.Integer(),
  /** Requests answered from the response cache. */
  cache_hits: Type.Integer(),
});
export type UsageReportRow = Static<typeof UsageReportRow>;

/** GET /v1/usage: the totals over [from, to), ISO 8601 times. */
export const UsageReport = Type.Object({
  object: Type.Literal("list"),
  from: Type.String(),
  to: Type.String(),
  group_by: UsageGroupBy,
  data: Type.Array(UsageReportRow),
});
export type UsageReport = Static<typeof UsageReport>;
