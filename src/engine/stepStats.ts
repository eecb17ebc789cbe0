import type { ModelSnapshot, StepStats } from "./types.ts";

export function emptyStepStats(): StepStats {
  return { steps: 0, stepMs: 0, decodedTokens: 0, promptTokens: 0, cachedPromptTokens: 0, stateCopies: 0, copiedPromptTokens: 0, stateCopyMs: 0 };
}

/** A loaded model's figures before its runner has answered. */
export function emptyModelSnapshot(id: string): ModelSnapshot {
  return { id, queued: 0, busySlots: 0, slots: [], stats: emptyStepStats(), kvUsedTokens: 0, kvTotalTokens: 0, rssBytes: 0, cpuSeconds: 0 };
}
