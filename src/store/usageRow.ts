import type { FinishedRequest } from "../engine/types.ts";

/** One request in the usage log (table `usage_log`). */
export interface UsageRow {
  /** When the request ended. */
  ts: Date;
  requestId: string;
  /** The API key's name; null without keys. */
  keyName: string | null;
  model: string;
  /** The route it came in on, e.g. `/v1/chat/completions`. */
  route: string;
  /** The HTTP status sent (a stream that started is 200 however it ended). */
  status: number;
  finishReason: string | null;
  promptTokens: number;
  /** Prompt tokens reused from the KV cache rather than evaluated. */
  cachedTokens: number;
  completionTokens: number;
  queueMs: number;
  ttftMs: number | null;
  durationMs: number;
  /** The error's stable code (`request_timeout`, `model_not_found`...), when there was one. */
  errorType: string | null;
  /** OpenAI's `user` field, when the client sent one. */
  userId: string | null;
  /** Answered from the response cache. */
  cacheHit: boolean;
}

/** What the HTTP layer knows about a request that the engine does not. */
export interface RequestContext {
  /** Defaults to the endpoint's route. */
  route?: string;
  /** Defaults to the error's status, else 200. */
  status?: number;
  /** Defaults to the request's tenant (its API key's name). */
  keyName?: string | null;
  /** Defaults to the request's `user`. */
  userId?: string | null;
  cacheHit?: boolean;
  /** Defaults to now. */
  ts?: Date;
}

const ROUTES: Record<FinishedRequest["endpoint"], string> = { chat: "/v1/chat/completions", text: "/v1/completions" };

/** The usage row of a request the engine finished. */
export function usageRowFromFinished(r: FinishedRequest, ctx: RequestContext = {}): UsageRow {
  return {
    ts: ctx.ts ?? new Date(),
    requestId: r.id,
    keyName: ctx.keyName ?? r.tenant ?? null,
    model: r.model,
    route: ctx.route ?? ROUTES[r.endpoint] ?? "",
    status: ctx.status ?? r.error?.statusCode ?? 200,
    finishReason: r.accepted ? r.reason : null,
    promptTokens: r.usage.promptTokens,
    cachedTokens: r.usage.cachedPromptTokens,
    completionTokens: r.usage.completionTokens,
    queueMs: r.timings.queueMs,
    ttftMs: r.ttftMs,
    durationMs: r.e2eMs,
    errorType: r.error?.code ?? null,
    userId: ctx.userId ?? r.user ?? null,
    cacheHit: ctx.cacheHit ?? false,
  };
}

const int = (v: number) => (Number.isFinite(v) ? Math.max(0, Math.min(2 ** 31 - 1, Math.round(v))) : 0);
const ms = (v: number) => (Number.isFinite(v) ? Math.max(0, v) : 0);
/**
 * PostgreSQL text refuses U+0000 (and a lone surrogate has no UTF-8 form): one such value in a
 * client's `user` or `model` must not fail the batch it travels in, so it is stored without them.
 */
const str = (v: unknown) => String(v).replaceAll("\0", "").toWellFormed();
const text = (v: string | null | undefined) => (v === null || v === undefined ? null : str(v));

/**
 * A copy the database will take: one bad value (a fractional token count, NaN, a missing string,
 * a NUL) must not make a whole batch fail again and again.
 */
export function storableUsageRow(r: UsageRow): UsageRow {
  return {
    ts: r.ts instanceof Date && !Number.isNaN(r.ts.getTime()) ? r.ts : new Date(),
    requestId: str(r.requestId ?? ""),
    keyName: text(r.keyName),
    model: str(r.model ?? ""),
    route: str(r.route ?? ""),
    status: int(r.status),
    finishReason: text(r.finishReason),
    promptTokens: int(r.promptTokens),
    cachedTokens: int(r.cachedTokens),
    completionTokens: int(r.completionTokens),
    queueMs: ms(r.queueMs),
    ttftMs: r.ttftMs === null || r.ttftMs === undefined ? null : ms(r.ttftMs),
    durationMs: ms(r.durationMs),
    errorType: text(r.errorType),
    userId: text(r.userId),
    cacheHit: r.cacheHit === true,
  };
}
