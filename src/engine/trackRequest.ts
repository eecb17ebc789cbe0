import { errors, HearthError } from "../errors.ts";
import type { EngineEvent, FinalEvent, FinishedRequest, GenerateRequest } from "./types.ts";

const NO_USAGE = { promptTokens: 0, completionTokens: 0, cachedPromptTokens: 0 };
const NO_TIMINGS = { queueMs: 0, promptMs: 0, generationMs: 0, promptEvaluated: 0, promptCached: 0, completionTokens: 0 };

/**
 * Passes one request's events through and reports it once it has ended, whatever ended it: a
 * refusal before it was accepted, its final event, or a consumer that stopped reading (the client
 * went away). In that last case the request is cancelled and read to its final event in the
 * background, so what it used is still reported.
 */
export async function* trackRequest(
  events: (signal: AbortSignal) => AsyncIterable<EngineEvent>,
  req: GenerateRequest,
  signal: AbortSignal | undefined,
  report: (r: FinishedRequest) => void,
): AsyncGenerator<EngineEvent> {
  const started = performance.now();
  let ttftMs: number | null = null;
  let accepted = false;
  const controller = new AbortController();
  const forward = () => controller.abort();
  if (signal?.aborted) controller.abort();
  else signal?.addEventListener("abort", forward, { once: true });

  const finish = (final: FinalEvent | null, err?: unknown) => {
    const error = final?.error ?? (final ? undefined : toError(err));
    report({
      id: req.id,
      model: req.model,
      reason: final?.reason ?? "error",
      accepted,
      usage: final?.usage ?? NO_USAGE,
      timings: final?.timings ?? NO_TIMINGS,
      ttftMs,
      e2eMs: performance.now() - started,
      ...(error ? { error: { code: error.code, statusCode: error.statusCode, type: error.type } } : {}),
      ...(req.tenant !== undefined ? { tenant: req.tenant } : {}),
      ...(req.user !== undefined ? { user: req.user } : {}),
      endpoint: req.prompt.kind === "chat" ? "chat" : "text",
      ...(req.route !== undefined ? { route: req.route } : {}),
    });
  };
  const observe = (ev: EngineEvent): FinalEvent | null => {
    if (ev.type === "accepted") accepted = true;
    else if (ev.type !== "final") ttftMs ??= performance.now() - started;
    return ev.type === "final" ? ev : null;
  };

  let it: AsyncIterator<EngineEvent>;
  let first: IteratorResult<EngineEvent>;
  try {
    it = events(controller.signal)[Symbol.asyncIterator]();
    first = await it.next();
  } catch (err) {
    signal?.removeEventListener("abort", forward);
    finish(null, err);
    throw err;
  }
  let final: FinalEvent | null = null;
  let failure: unknown;
  try {
    for (let r = first; !r.done; r = await it.next()) {
      final = observe(r.value) ?? final;
      yield r.value;
    }
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    signal?.removeEventListener("abort", forward);
    if (final || failure !== undefined) {
      finish(final, failure);
    } else {
      controller.abort();
      void (async () => {
        let last: FinalEvent | null = null;
        try {
          for (let r = await it.next(); !r.done; r = await it.next()) last = observe(r.value) ?? last;
          finish(last);
        } catch (err) {
          finish(null, err);
        }
      })();
    }
  }
}

function toError(err: unknown): HearthError {
  if (HearthError.is(err)) return err;
  return errors.engineFailed(err instanceof Error ? err.message : String(err ?? "the engine ended the request without a final event"));
}
