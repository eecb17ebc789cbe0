/**
 * idle: free (its KV cells may still hold an earlier request's tokens, kept for prefix reuse);
 * prefill: evaluating its prompt, a chunk per step; decoding: one token per step.
 * idle -> prefill (admit) -> decoding (last prompt chunk) -> idle (release).
 */
export type SlotState = "idle" | "prefill" | "decoding";

export interface SlotInfo {
  id: number;
  state: SlotState;
  requestId: string | null;
  promptTokens: number;
  /** Prompt tokens whose KV state was reused from the slot's previous request. */
  cachedTokens: number;
  /** Prompt tokens evaluated so far (cached ones included). */
  prefilledTokens: number;
  generatedTokens: number;
}

