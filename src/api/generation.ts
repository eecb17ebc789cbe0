import type { FastifyReply, FastifyRequest } from "fastify";
import type { GenerateRequest, Usage } from "../engine/types.ts";
import { cacheKey } from "../cache/cacheKey.ts";
import { errors } from "../errors.ts";
import type { RateLimitHeaders } from "../limits/types.ts";
import { isCompleted, replay, respond, type ResponseFormat, type StoredAnswer, type StreamOptions } from "./respond.ts";
import type { RouteDeps } from "./routes/deps.ts";

/**
 * One generation request after validation and the model permission step (its `jobs`: one engine
 * request per choice, `n`): the key's rate limits (with OpenAI's x-ratelimit-* headers), the
 * response cache, then the engine. The key's limits are charged the request's estimated tokens at
 * admission and corrected to what it used at the end.
 */
export async function serveGeneration(
  deps: RouteDeps, request: FastifyRequest, reply: FastifyReply,
  jobs: GenerateRequest[], format: ResponseFormat, opts: StreamOptions,
): Promise<void> {
  const { caller } = request;
  const job = jobs[0]!;
  // The permission step (requestRecord.ts) ran for this model, or nothing runs: by construction, not by each caller's care.
  if (request.record.model !== job.model) throw errors.internal();
  if (caller.key) for (const j of jobs) j.tenant = caller.key.name;
  // The usage log's route says which protocol the request came in by (a WebSocket's, chat's).
  const route = request.routeOptions.url;
  if (route !== undefined && !opts.channel) for (const j of jobs) j.route ??= route;
  const ctx = { report: deps.report, streamBufferBytes: deps.streamBufferBytes };
  const release = await chargeKey(deps, request, reply, jobs.reduce((n, j) => n + estimateTokens(j), 0));
  let used = 0;
  try {
    // The cache keeps one choice's text: not for several choices, nor for logprobs, which it does not store.
    const cacheable = jobs.length === 1 && job.logprobs === undefined;
    const cacheKey = cacheable && deps.cache && (deps.cacheSampled || deterministic(job)) ? responseKey(deps.router.resolveId(job.model) ?? job.model, job) : null;
    if (cacheKey) {
      const hit = await deps.cache!.get(cacheKey);
      if (hit) {
        const stored = JSON.parse(hit.toString()) as StoredAnswer;
        void reply.header("x-hearth-cache", "hit");
        request.record.answered = { usage: stored.usage, cacheHit: true };
        deps.metrics.cache("hit");
        return await replay(request, reply, format, opts, ctx, stored);
      }
      void reply.header("x-hearth-cache", "miss");
      deps.metrics.cache("miss");
    }
    request.record.engineCalled = true;
    if (deps.started) for (const j of jobs) deps.started(j);
    const { final, text, choices } = await respond(deps.router, request, reply, jobs, format, opts, ctx);
    if (final) used = final.usage.promptTokens + final.usage.completionTokens;
    if (cacheKey && final && isCompleted(final.reason)) {
      // A call's id is not kept: a replayed answer's calls get their own.
      const calls = choices[0]!.toolCalls.map(({ name, arguments: args }) => ({ name, arguments: args }));
      const { reasoning } = choices[0]!;
      const stored: StoredAnswer = {
        text, ...(reasoning ? { reasoning } : {}), finishReason: final.reason, usage: final.usage, ...(calls.length > 0 ? { toolCalls: calls } : {}),
        ...(final.stopSequence !== undefined ? { stopSequence: final.stopSequence } : {}),
      };
      await deps.cache!.set(cacheKey, JSON.stringify(stored), deps.cacheTtlSeconds);
    }
  } finally {
    await release(used);
  }
}

/**
 * Charges a request to its key's rate limits (with OpenAI's x-ratelimit-* headers), or refuses it
 * with 429; returns what settles the charge when the request ends, with the tokens it really used.
 */
export async function chargeKey(deps: RouteDeps, request: FastifyRequest, reply: FastifyReply, estimate: number): Promise<(actualTokens: number) => Promise<void>> {
  const key = request.caller.key;
  if (!key || !deps.limiter || (key.rpm === null && key.tpm === null && key.maxParallel === null)) return async () => {};
  const id = `key-${key.id}`;
  const decision = await deps.limiter.acquire({ id, ...(key.rpm !== null ? { rpm: key.rpm } : {}), ...(key.tpm !== null ? { tpm: key.tpm } : {}), ...(key.maxParallel !== null ? { maxParallel: key.maxParallel } : {}) }, estimate);
  rateLimitHeaders(reply, decision.headers);
  if (!decision.allowed) {
    if (decision.retryAfterMs !== undefined) void reply.header("retry-after-ms", String(decision.retryAfterMs));
    throw errors.rateLimitExceeded(decision.limit ?? "requests", decision.retryAfterSeconds ?? 60);
  }
  const ticket = decision.ticket!;
  return (actualTokens) => deps.limiter!.release(id, { ticket, actualTokens });
}

/** OpenAI's x-ratelimit-* headers, for the limits the key has. */
function rateLimitHeaders(reply: FastifyReply, h: RateLimitHeaders): void {
  const set = (name: string, value: number | undefined, seconds = false) => {
    if (value !== undefined) void reply.header(name, seconds ? `${value}s` : String(value));
  };
  set("x-ratelimit-limit-requests", h.limitRequests);
  set("x-ratelimit-remaining-requests", h.remainingRequests);
  set("x-ratelimit-reset-requests", h.resetRequestsSeconds, true);
  set("x-ratelimit-limit-tokens", h.limitTokens);
  set("x-ratelimit-remaining-tokens", h.remainingTokens);
  set("x-ratelimit-reset-tokens", h.resetTokensSeconds, true);
}

/** Sampling that gives the same answer again: greedy, or a fixed seed. */
function deterministic(job: GenerateRequest): boolean {
  return job.sampling.temperature === 0 || job.sampling.seed !== undefined;
}

/** The cache key: the model and everything that shapes the answer; not the request id, key, user or keep_alive. */
function responseKey(model: string, job: GenerateRequest): string {
  const { prompt, maxTokens, stop, sampling, constraint, template } = job;
  return cacheKey({ model, prompt, maxTokens: maxTokens ?? null, stop, sampling, ...(constraint ? { constraint } : {}), ...(template ? { template } : {}) });
}

/**
 * Tokens a request is charged at admission, before its prompt is tokenized: about 4 characters per
 * prompt token, plus its max_tokens (or 256 when it sets none). Corrected to the real use at its end.
 */
function estimateTokens(job: GenerateRequest): number {
  const p = job.prompt;
  const chars = p.kind === "chat" ? p.messages.reduce((n, m) => n + m.content.length + 8, 0) : p.kind === "text" ? p.text.length : p.tokens.length * 4;
  return Math.ceil(chars / 4) + (job.maxTokens ?? 256);
}
