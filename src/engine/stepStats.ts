import type { StepStats } from "./types.ts";

export function emptyStepStats(): StepStats {
  return { steps: 0, stepMs: 0, decodedTokens: 0, promptTokens: 0, cachedPromptTokens: 0 };
}
