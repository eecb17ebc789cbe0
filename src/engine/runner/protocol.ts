import type { WireError } from "../../errors.ts";
import type { LlamaCppEngineOptions } from "../llamacpp/LlamaCppEngine.ts";
import type { EngineSnapshot, GenerateRequest, ModelInfo, TokenEvent } from "../types.ts";

/** The IPC messages between the server and a runner process; all plain data. */

export type RunnerOptions = Omit<LlamaCppEngineOptions, "log">;

export type ToRunner =
  | { type: "init"; options: RunnerOptions }
  | { type: "generate"; req: GenerateRequest }
  | { type: "cancel"; id: string }
  | { type: "snapshot"; rid: number }
  | { type: "shutdown" };

/** One step's events for every request that had any: one message per step, not per token. */
export type StepItem = { id: string; event: TokenEvent } | { id: string; error: WireError };

export type FromRunner =
  | { type: "loaded"; models: ModelInfo[]; threads: number }
  | { type: "accepted"; id: string; promptTokens: number }
  | { type: "rejected"; id: string; error: WireError }
  | { type: "step"; items: StepItem[] }
  | { type: "snapshot"; rid: number; snapshot: EngineSnapshot }
  | { type: "log"; level: "debug" | "warn" | "error"; message: string };
