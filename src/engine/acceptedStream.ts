import type { AsyncQueue } from "../util/AsyncQueue.ts";
import type { TokenEvent } from "./types.ts";

/**
 * The tail every Engine.generate shares once a request is accepted: the "accepted" event, then the
 * request's events until done; aborting the signal, or the consumer stopping early, cancels it.
 */
export async function* acceptedStream(
  promptTokens: number, events: AsyncQueue<TokenEvent>, signal: AbortSignal | undefined, cancel: () => void,
): AsyncGenerator<TokenEvent> {
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    if (signal?.aborted) return;
    yield { type: "accepted", promptTokens };
    yield* events;
  } finally {
    signal?.removeEventListener("abort", cancel);
    if (!events.ended) cancel();
  }
}
