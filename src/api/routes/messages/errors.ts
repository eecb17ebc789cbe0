import type { HearthError } from "../../../errors.ts";
import type { AnthropicError, AnthropicErrorType } from "../../../wire/anthropic.ts";

/**
 * Anthropic's error type for an HTTP status, as its API documents them; other 4xx are
 * invalid_request_error (as Anthropic says it does), other 5xx api_error. The status itself is
 * Hearth's (a full queue stays 429, a loading model 503), so clients retry as they would.
 */
export function anthropicErrorType(status: number): AnthropicErrorType {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: case 529: return "overloaded_error";
    case 504: return "timeout_error";
  }
  return status < 500 ? "invalid_request_error" : "api_error";
}

/**
 * The error body of the Messages routes, and a stream's `error` event. Anthropic's shape has no
 * param: the field at fault leads a message that does not name it, as in Anthropic's own (`messages.[0].content: ...`).
 */
export function anthropicError(err: HearthError, requestId: string | null): AnthropicError {
  const message = err.param !== null && !err.message.includes(`'${err.param}'`) ? `${err.param}: ${err.message}` : err.message;
  return { type: "error", error: { type: anthropicErrorType(err.statusCode), message }, request_id: requestId };
}
