import type { EngineSnapshot, ModelInfo, StepStats } from "./types.ts";

export function emptyStepStats(): StepStats {
  return { steps: 0, stepMs: 0, decodedTokens: 0, promptTokens: 0, cachedPromptTokens: 0 };
}

/** What a snapshot says while no runner is up. */
export function emptySnapshot(models: ModelInfo[]): EngineSnapshot {
  return { models, queued: 0, busySlots: 0, slots: [], stats: emptyStepStats(), kvUsedTokens: 0, kvTotalTokens: 0, rssBytes: 0 };
}
