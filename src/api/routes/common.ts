import { randomUUID } from "node:crypto";
import type { GenerateRequest, Prompt, Timings, Usage } from "../../engine/types.ts";
import { Type, type Static, type TSchema } from "typebox";
import { KeepAlive } from "../../config/schema.ts";
import { errors } from "../../errors.ts";
import { parseDurationSeconds } from "../../util/units.ts";
import type * as wire from "../../wire/chatCompletion.ts";

/** OpenAI accepts `null` for every optional field and treats it as absent. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/**
 * Text that is stored in the database (the usage log, API keys): PostgreSQL text cannot hold U+0000,
 * and a lone surrogate has no UTF-8 encoding. ajv compiles patterns with the `u` flag, so a
 * surrogate pair is one code point and only an unpaired half matches the class.
 */
export const STORED_TEXT_PATTERN = "^[^\\u0000\\uD800-\\uDFFF]*$";
export const StoredText = (opts: { minLength?: number; maxLength: number }) => Type.String({ ...opts, pattern: STORED_TEXT_PATTERN });
/**
 * A field of a body that was not validated (a refused request is still logged), made storable:
 * cut to `max` (which may split a pair), then NUL and lone surrogates become U+FFFD.
 */
export const toStoredText = (value: unknown, max: number): string | null =>
  typeof value === "string" ? value.slice(0, max).toWellFormed().replaceAll("\0", "\uFFFD") : null;

/** Caps documented in docs/api.md: they bound the work one request can ask for. */
export const LIMITS = {
  maxStopSequences: 4,
  maxStopLength: 512,
  maxMessages: 4096,
  maxPromptTokenIds: 1 << 20,
  maxTokens: 1 << 30,
  maxLogitBias: 300,
  /** `n` when the config sets no `inference.max_n`. */
  defaultMaxN: 8,
  /** Chat's `top_logprobs`. */
  maxTopLogprobs: 20,
  /** Completions' legacy `logprobs`. */
  maxCompletionLogprobs: 5,
} as const;

/** Fields shared by /v1/chat/completions and /v1/completions. */
export const GenerationFields = {
  model: StoredText({ minLength: 1, maxLength: 256 }),
  max_tokens: Nullable(Type.Integer({ minimum: 1, maximum: LIMITS.maxTokens })),
  temperature: Nullable(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  /** Not in OpenAI's API; llama-server and vLLM accept it. 0 disables it. */
  top_k: Nullable(Type.Integer({ minimum: 0, maximum: 1 << 20 })),
  min_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  seed: Nullable(Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })),
  stop: Nullable(Type.Union([
    Type.String({ minLength: 1, maxLength: LIMITS.maxStopLength }),
    Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.maxStopLength }), { maxItems: LIMITS.maxStopSequences }),
  ])),
  presence_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
  frequency_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
  stream: Nullable(Type.Boolean()),
  stream_options: Nullable(Type.Object({ include_usage: Nullable(Type.Boolean()) })),
  /** Choices to generate, each its own engine request; the route narrows the maximum to `inference.max_n`. */
  n: Nullable(Type.Integer({ minimum: 1, maximum: LIMITS.defaultMaxN })),
  /** Token id (decimal string) -> bias added to its logit, -100 (about a ban) to 100 (about forcing it); ids are checked against the vocabulary. */
  logit_bias: Nullable(Type.Record(Type.String({ pattern: "^(0|[1-9][0-9]{0,9})$" }), Type.Number({ minimum: -100, maximum: 100 }), { maxProperties: LIMITS.maxLogitBias })),
  user: Nullable(StoredText({ maxLength: 512 })),
  /**
   * Not in OpenAI's API; Ollama's: how long the model stays loaded after this request ("5m", 300,
   * 0 to unload after the response, negative to keep it loaded).
   */
  keep_alive: Nullable(KeepAlive),
};

const GenerationFieldsSchema = Type.Object(GenerationFields);
export type GenerationBody = Static<typeof GenerationFieldsSchema>;

/** Server-side defaults for fields a request leaves out (config `inference.*`, then the model's own). */
export interface InferenceDefaults {
  maxTokens?: number;
  temperature: number;
  /** 0 disables it. */
  topK: number;
  topP?: number;
  minP?: number;
  /** The most choices (`n`) a request may ask for (config `inference.max_n`; default 8). */
  maxN?: number;
}

/**
 * Maps the OpenAI fields both endpoints share onto an engine request. The one place a request's
 * max_tokens is decided: chat's `max_completion_tokens` (OpenAI's newer name) over `max_tokens`,
 * over the model's or the server's default; none means up to the end of the context.
 */
export function toGenerateRequest(
  body: GenerationBody & { max_completion_tokens?: number | null }, prompt: Prompt, defaults: InferenceDefaults,
): GenerateRequest {
  const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
  const limit = body.max_completion_tokens ?? body.max_tokens ?? defaults.maxTokens;
  const topP = body.top_p ?? defaults.topP;
  const minP = body.min_p ?? defaults.minP;
  return {
    id: randomUUID(),
    model: body.model,
    prompt,
    ...(limit != null ? { maxTokens: limit } : {}),
    stop,
    sampling: {
      temperature: body.temperature ?? defaults.temperature,
      ...(topP != null ? { topP } : {}),
      topK: body.top_k ?? defaults.topK,
      ...(minP != null ? { minP } : {}),
      ...(body.seed != null ? { seed: toUint32(body.seed) } : {}),
      ...(body.presence_penalty != null ? { presencePenalty: body.presence_penalty } : {}),
      ...(body.frequency_penalty != null ? { frequencyPenalty: body.frequency_penalty } : {}),
      ...(body.logit_bias != null && Object.keys(body.logit_bias).length > 0 ? { logitBias: body.logit_bias } : {}),
    },
    ...(body.keep_alive != null ? { keepAliveSeconds: keepAliveSeconds(body.keep_alive) } : {}),
    ...(body.user != null ? { user: body.user } : {}),
  };
}

/** A request's keep_alive in seconds; a 400 naming `keep_alive` when it is not a duration. */
export function keepAliveSeconds(value: string | number): number {
  try {
    return parseDurationSeconds(value);
  } catch (err) {
    throw errors.invalidRequest(`Invalid value for 'keep_alive': ${(err as Error).message}.`, "keep_alive");
  }
}

/**
 * A route's body schema with `n` capped at `maxN` (config `inference.max_n`), so that validation
 * and the OpenAPI document both say what is accepted.
 */
export function withMaxN<T extends TObjectLike>(schema: T, maxN: number): T {
  return Type.Object({ ...schema.properties, n: Nullable(Type.Integer({ minimum: 1, maximum: maxN })) }) as unknown as T;
}
type TObjectLike = TSchema & { properties: Record<string, TSchema> };

/**
 * The engine requests of one HTTP request: one per choice (`n`), ids `<id>-<i>`; with a seed,
 * choice i uses seed + i so that the choices differ.
 */
export function fanOut(job: GenerateRequest, n: number): GenerateRequest[] {
  if (n <= 1) return [job];
  return Array.from({ length: n }, (_, i) => ({
    ...job,
    id: `${job.id}-${i}`,
    sampling: { ...job.sampling, ...(job.sampling.seed !== undefined ? { seed: (job.sampling.seed + i) % 4294967296 } : {}) },
  }));
}

/** OpenAI seeds are 64-bit; llama.cpp's are 32-bit. Distinct small seeds stay distinct. */
function toUint32(seed: number): number {
  return Number(((BigInt(seed) % 4294967296n) + 4294967296n) % 4294967296n);
}

export const unixNow = () => Math.floor(Date.now() / 1000);

/** OpenAI's `usage` object; cached tokens are the prompt tokens whose KV state was reused. */
export function usageJson(u: Usage): wire.CompletionUsage {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedPromptTokens },
    ...(u.reasoningTokens !== undefined ? { completion_tokens_details: { reasoning_tokens: u.reasoningTokens } } : {}),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

/** llama-server's `timings` object, plus the time spent waiting for a slot. */
export function timingsJson(t: Timings): wire.Timings {
  return {
    queue_ms: round(t.queueMs),
    cache_n: t.promptCached,
    prompt_n: t.promptEvaluated,
    prompt_ms: round(t.promptMs),
    prompt_per_token_ms: t.promptEvaluated ? round(t.promptMs / t.promptEvaluated) : null,
    prompt_per_second: t.promptMs > 0 ? round((t.promptEvaluated * 1000) / t.promptMs) : null,
    predicted_n: t.completionTokens,
    predicted_ms: round(t.generationMs),
    predicted_per_token_ms: t.completionTokens > 1 ? round(t.generationMs / (t.completionTokens - 1)) : null,
    predicted_per_second: t.generationMs > 0 ? round(((t.completionTokens - 1) * 1000) / t.generationMs) : null,
  };
}

/** The same figures as a Server-Timing header, which browsers' developer tools display. */
export function serverTimingHeader(t: Timings): string {
  return `queue;dur=${round(t.queueMs)}, prompt;dur=${round(t.promptMs)};desc="${t.promptEvaluated} evaluated, ${t.promptCached} cached", generation;dur=${round(t.generationMs)};desc="${t.completionTokens} tokens"`;
}
