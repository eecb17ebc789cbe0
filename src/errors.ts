/**
 * Every error Hearth reports to a client. Each has a stable OpenAI `code`, an HTTP status and an
 * OpenAI `type`; `api/errorHandler.ts` is the one place that turns them into
 * `{"error": {"message", "type", "param", "code"}}`. The messages are built from facts only, never
 * from paths, stack traces or keys.
 */

export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "server_error"
  | "service_unavailable"
  | "rate_limit_error"
  | "timeout_error";

/** A HearthError as plain data, for crossing the IPC channel from a runner process. */
export interface WireError {
  code: string;
  statusCode: number;
  type: OpenAIErrorType;
  message: string;
  param: string | null;
  retryAfter?: number;
}

const BRAND = Symbol.for("hearth.error");

export class HearthError extends Error {
  readonly [BRAND] = true;
  readonly code: string;
  readonly statusCode: number;
  readonly type: OpenAIErrorType;
  readonly param: string | null;
  /** Seconds, sent as a Retry-After header. */
  readonly retryAfter: number | undefined;

  constructor(opts: { code: string; statusCode: number; type: OpenAIErrorType; message: string; param?: string | null; retryAfter?: number; cause?: unknown }) {
    super(opts.message, { cause: opts.cause });
    this.name = "HearthError";
    this.code = opts.code;
    this.statusCode = opts.statusCode;
    this.type = opts.type;
    this.param = opts.param ?? null;
    this.retryAfter = opts.retryAfter;
  }

  toWire(): WireError {
    return { code: this.code, statusCode: this.statusCode, type: this.type, message: this.message, param: this.param, ...(this.retryAfter !== undefined ? { retryAfter: this.retryAfter } : {}) };
  }

  static fromWire(w: WireError): HearthError {
    return new HearthError(w);
  }

  static is(err: unknown): err is HearthError {
    return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
  }

  toJSON(): { error: { message: string; type: OpenAIErrorType; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const mib = (bytes: number) => `${Math.ceil(bytes / 1048576)} MiB`;

type Factory<A extends unknown[]> = ((...args: A) => HearthError) & { code: string; statusCode: number; type: OpenAIErrorType };

function define<A extends unknown[]>(
  code: string,
  statusCode: number,
  type: OpenAIErrorType,
  build: (...args: A) => { message: string; param?: string | null; retryAfter?: number },
): Factory<A> {
  const factory = (...args: A) => new HearthError({ code, statusCode, type, ...build(...args) });
  return Object.assign(factory, { code, statusCode, type });
}

export const errors = {
  // Request shape
  invalidJson: define("invalid_json", 400, "invalid_request_error", (detail: string) => ({
    message: `We could not parse the JSON body of your request (${detail}). Send a valid JSON object.`,
  })),
  invalidRequest: define("invalid_request", 400, "invalid_request_error", (message: string, param: string | null = null) => ({ message, param })),
  unsupported: define("unsupported_parameter", 400, "invalid_request_error", (message: string, param: string) => ({ message, param })),
  /** `atLeast`: the count is a lower bound, from the text's size, for a text refused without tokenizing it. */
  contextLengthExceeded: define("context_length_exceeded", 400, "invalid_request_error", (promptTokens: number, requested: number | undefined, contextSize: number, param: string, atLeast = false) => {
    const some = atLeast ? "at least " : "";
    return {
      message: /^(input|query|documents)/.test(param)
        ? `This model's maximum context length is ${contextSize} tokens, but '${param}' takes ${some}${promptTokens}${param.startsWith("input") ? "" : " (ranked as the query and a document in the model's rerank template)"}. Please shorten it.`
        : requested === undefined
        ? `This model's maximum context length is ${contextSize} tokens, and your prompt takes ${some}${promptTokens}, leaving no room for a completion. Please shorten the prompt.`
        : `This model's maximum context length is ${contextSize} tokens. However, you requested ${some}${promptTokens + requested} tokens ` +
          `(${some}${promptTokens} in the prompt, ${requested} in the completion). Please reduce the length of the prompt or of max_tokens.`,
      param,
    };
  }),
  notReranker: define("model_not_reranker", 400, "invalid_request_error", (model: string) => ({
    message: `The model '${model}' is not a reranker: ranking needs a model with a rank head (a classification head, as bge-reranker and Qwen3-Reranker GGUFs have: a cls.weight or cls.output.weight tensor). Send the request to a reranker model.`,
    param: "model",
  })),
  bodyTooLarge: define("request_too_large", 413, "invalid_request_error", (limit: number) => ({
    message: `Request body is larger than the server's limit of ${limit} bytes.`,
  })),
  unsupportedMediaType: define("unsupported_media_type", 415, "invalid_request_error", (contentType: string) => ({
    message: `Unsupported Content-Type '${contentType}'; send application/json.`,
  })),
  clientTimeout: define("client_timeout", 408, "invalid_request_error", () => ({
    message: "The request's headers or body did not arrive within the server's time limit (http.headers_timeout_ms, http.request_timeout_ms).",
  })),
  headersTooLarge: define("headers_too_large", 431, "invalid_request_error", () => ({
    message: "The request's headers are larger than the server accepts.",
  })),
  badHttp: define("bad_http", 400, "invalid_request_error", () => ({
    message: "The request is not valid HTTP/1.1.",
  })),
  // Routing
  // OpenAI answers an unknown model with 404 and type invalid_request_error.
  modelNotFound: define("model_not_found", 404, "invalid_request_error", (model: string) => ({
    message: `The model '${model}' does not exist or you do not have access to it.`,
    param: "model",
  })),
  routeNotFound: define("not_found", 404, "not_found_error", (method: string, url: string) => ({
    message: `No route for ${method} ${url}.`,
  })),
  // Keys and limits: messages never repeat the key that was sent.
  missingApiKey: define("missing_api_key", 401, "authentication_error", () => ({
    message: "You didn't provide an API key. Send it in the Authorization header: 'Authorization: Bearer YOUR_KEY'.",
  })),
  invalidApiKey: define("invalid_api_key", 401, "authentication_error", () => ({
    message: "Incorrect API key provided, or the key was revoked.",
  })),
  modelNotAllowed: define("model_not_allowed", 403, "permission_error", (model: string) => ({
    message: `Your API key may not use the model '${model}'.`,
    param: "model",
  })),
  adminRequired: define("admin_required", 403, "permission_error", () => ({
    message: "This operation needs the admin key.",
  })),
  rateLimitExceeded: define("rate_limit_exceeded", 429, "rate_limit_error", (limit: "requests" | "tokens" | "parallel", retryAfter: number) => ({
    message: limit === "parallel"
      ? `Your API key has as many requests in flight as it may. Retry after ${retryAfter} s.`
      : `Rate limit reached for ${limit} per minute on your API key. Retry after ${retryAfter} s.`,
    retryAfter,
  })),
  // Load and time
  serverOverloaded: define("server_overloaded", 429, "rate_limit_error", (model: string, queued: number, retryAfter: number) => ({
    message: `The model '${model}' is overloaded: all its slots are busy and ${queued} requests are already waiting. Retry after ${retryAfter} s.`,
    retryAfter,
  })),
  requestTimeout: define("request_timeout", 504, "timeout_error", (timeoutMs: number) => ({
    message: `The request did not finish within the server's timeout of ${timeoutMs} ms (queue wait included).`,
  })),
  // Server state
  modelLoading: define("model_loading", 503, "service_unavailable", (model: string) => ({
    message: `The model '${model}' is still loading; retry shortly.`,
  })),
  modelLoadFailed: define("model_load_failed", 503, "service_unavailable", (model: string, reason: string) => ({
    message: `The model '${model}' failed to load: ${reason}`,
  })),
  insufficientMemory: define("insufficient_memory", 503, "service_unavailable", (model: string, neededBytes: number, freeBytes: number, budgetBytes: number) => ({
    message: `The model '${model}' needs about ${mib(neededBytes)} of memory, but only ${mib(freeBytes)} of the ${mib(budgetBytes)} budget can be freed ` +
      "(models that are loading, pinned or serving requests are not unloaded). Retry when other models are idle, or raise the memory budget.",
    param: "model",
  })),
  modelNotDeletable: define("model_not_deletable", 409, "invalid_request_error", (model: string) => ({
    message: `The model '${model}' is not a file of the models folder (the config or --model declares it, or other servers serve it); remove it from the config instead.`,
    param: "model",
  })),
  modelInUse: define("model_in_use", 409, "invalid_request_error", (model: string, state: string, requests: number) => ({
    message: `The model '${model}' cannot be unloaded now: it is ${state === "loading" ? "loading" : `serving ${requests} request(s)`}.`,
    param: "model",
  })),
  runnerCrashed: define("runner_crashed", 503, "service_unavailable", (model: string) => ({
    message: `The process running the model '${model}' stopped unexpectedly; it is being restarted. Retry shortly.`,
  })),
  engineFailed: define("engine_error", 500, "server_error", (reason: string) => ({
    message: `The engine failed while generating: ${reason}`,
  })),
  internal: define("internal_error", 500, "server_error", () => ({
    message: "The server had an internal error while processing your request.",
  })),

  // ---- Model pull (src/models/pull) ----
  // `source` in these messages is the source with credentials, query and fragment removed.
  invalidModelSource: define("invalid_model_source", 400, "invalid_request_error", (reason: string) => ({
    message: `The model source cannot be pulled: ${reason}`,
    param: "source",
  })),
  invalidModelName: define("invalid_model_name", 400, "invalid_request_error", (reason: string) => ({
    message: `The model name cannot be used: ${reason}`,
    param: "name",
  })),
  sourceAddressBlocked: define("source_address_blocked", 400, "invalid_request_error", (source: string, addressClass: string) => ({
    message: `The model source '${source}' cannot be pulled: it leads to a ${addressClass} address, and pulls from loopback, private, link-local and other non-public addresses are refused. An administrator pulling from a local mirror can allow them with pull.allow_private_addresses (--allow-private-addresses).`,
    param: "source",
  })),
  modelSourceNotFound: define("model_source_not_found", 404, "invalid_request_error", (source: string, detail = "") => ({
    message: `The model source '${source}' does not exist.${detail}`,
    param: "source",
  })),
  invalidModelFile: define("invalid_model_file", 400, "invalid_request_error", (source: string, reason: string) => ({
    message: `The file at '${source}' is not a usable GGUF model: ${reason}`,
    param: "source",
  })),
  modelExists: define("model_exists", 409, "invalid_request_error", (name: string) => ({
    message: `A different model file named '${name}' already exists. Remove it first or pull under another name.`,
    param: "name",
  })),
  pullInProgress: define("pull_in_progress", 409, "invalid_request_error", (name: string) => ({
    message: `A pull of '${name}' is already in progress; wait for it to finish.`,
    param: "name",
  })),
  pullFailed: define("pull_failed", 502, "server_error", (source: string, reason: string) => ({
    message: `Pulling '${source}' failed: ${reason}`,
  })),
  checksumMismatch: define("checksum_mismatch", 502, "server_error", (source: string, expected: string, actual: string) => ({
    message: `The file pulled from '${source}' has sha256 ${actual}, but the source declares ${expected}; it was discarded.`,
  })),
  insufficientStorage: define("insufficient_storage", 507, "server_error", (name: string, neededBytes: number | null) => ({
    message: neededBytes === null
      ? `The models folder ran out of space while pulling '${name}'; the partial file was removed.`
      : `The models folder has too little free space for '${name}' (${neededBytes} bytes needed).`,
  })),
  // ---- end of model pull ----

  // ---- API keys and usage store (src/store) ----
  keyNotFound: define("key_not_found", 404, "not_found_error", (name: string) => ({
    message: `No active API key is named '${name}'.`,
    param: "name",
  })),
  keyExists: define("key_exists", 409, "invalid_request_error", (name: string) => ({
    message: `An active API key is already named '${name}'. Revoke it first or choose another name.`,
    param: "name",
  })),
  storeUnavailable: define("store_unavailable", 503, "service_unavailable", () => ({
    message: "The database that keeps API keys and usage cannot be reached now; retry shortly.",
  })),
  // ---- end of API keys and usage store ----
  upstreamUnavailable: define("upstream_unavailable", 502, "service_unavailable", (model: string) => ({
    message: `No upstream server of the model '${model}' could be reached; retry shortly.`,
  })),
  upstreamFailed: define("upstream_error", 502, "server_error", (model: string, reason: string) => ({
    message: `The upstream server of the model '${model}' failed: ${reason}`,
  })),

  // ---- Web app: conversations, WebSocket streams, browser guard ----
  responseNotFound: define("response_not_found", 404, "invalid_request_error", (id: string, param: string | null = null) => ({
    message: `No response with id '${id.slice(0, 64)}' is stored, or it is not yours.`,
    param,
  })),
  conversationNotFound: define("conversation_not_found", 404, "invalid_request_error", (id: string, param: string | null = "conversation") => ({
    message: `No conversation '${id.slice(0, 64)}' exists, or it is not yours.`,
    param,
  })),
  requestInProgress: define("request_in_progress", 409, "invalid_request_error", () => ({
    message: "This WebSocket is already streaming a completion; send {\"type\":\"cancel\"} or wait for [DONE] before the next request.",
  })),
  hostNotAllowed: define("host_not_allowed", 403, "permission_error", () => ({
    message: "The Host header names a host this server does not answer to (a guard against DNS rebinding); add it to allowed_hosts to allow it.",
  })),
  originNotAllowed: define("origin_not_allowed", 403, "permission_error", () => ({
    message: "Requests from another web origin are refused; add the origin to cors_origins to allow it.",
  })),
  // ---- end of web app ----
} as const;

export type ErrorName = keyof typeof errors;
