import type { WireError } from "../errors.ts";
import type { FinalEvent, FinishReason, Usage } from "./types.ts";

/** Where a request's time went, in the final event's terms; the token counts come from its usage. */
export interface Spent {
  queueMs: number;
  promptMs: number;
  generationMs: number;
  /** Prompt tokens evaluated; default: those of the usage not reused. */
  promptEvaluated?: number;
  /** Prompt tokens reused; default: the usage's cached ones. */
  promptCached?: number;
}

/**
 * The one final event of a request, built the same way by every engine (a runner, an upstream, a
 * crash, a cached answer), so that its timings always agree with its usage.
 */
export function finalEvent(reason: FinishReason, usage: Usage, spent: Spent, error?: WireError, stopSequence?: string): FinalEvent {
  const promptCached = spent.promptCached ?? usage.cachedPromptTokens;
  return {
    type: "final",
    reason,
    usage,
    timings: {
      queueMs: spent.queueMs,
      promptMs: spent.promptMs,
      generationMs: spent.generationMs,
      promptEvaluated: spent.promptEvaluated ?? usage.promptTokens - promptCached,
      promptCached,
      completionTokens: usage.completionTokens,
    },
    ...(error ? { error } : {}),
    // Only a request that ended by it: a stop string followed by tool calls ended for the calls.
    ...(stopSequence !== undefined && reason === "stop" ? { stopSequence } : {}),
  };
}

/** A generation that stopped by itself after making tool calls ended for them (OpenAI's `tool_calls`). */
export const endedByToolCalls = (reason: FinishReason, madeCalls: boolean): FinishReason => (reason === "stop" && madeCalls ? "tool_calls" : reason);
