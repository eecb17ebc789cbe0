import type { WireError } from "../../errors.ts";
import type { LlamaCppEngineOptions } from "../llamacpp/LlamaCppEngine.ts";
import type { EngineEvent, GenerateRequest, ModelSnapshot } from "../types.ts";

/** The IPC messages between the server and a runner process; all plain data. */

export type RunnerOptions = Omit<LlamaCppEngineOptions, "log">;

export type ToRunner =
  | { type: "init"; options: RunnerOptions }
  | { type: "generate"; req: GenerateRequest }
  | { type: "cancel"; id: string }
  | { type: "snapshot"; rid: number }
  | { type: "shutdown" };

/** One step's events for every request that had any: one message per step, not per token. */
export interface StepItem { id: string; event: EngineEvent }

export type FromRunner =
  | {
    type: "loaded";
    state: "loaded" | "failed";
    contextSize: number;
    error?: string;
    threads: number;
    /** Resident memory of the runner before and after loading the model. */
    rssBeforeBytes: number;
    rssAfterBytes: number;
  }
  | { type: "accepted"; id: string; promptTokens: number }
  | { type: "rejected"; id: string; error: WireError }
  | { type: "step"; items: StepItem[] }
  | { type: "snapshot"; rid: number; snapshot: ModelSnapshot }
  | { type: "log"; level: "debug" | "warn" | "error"; message: string };
