import type { WireError } from "../../errors.ts";
import type { LlamaCppEngineOptions } from "../llamacpp/LlamaCppEngine.ts";
import type { ChatTemplateInfo, EngineEvent, GenerateRequest, ModelSnapshot, Prompt, PromptOptions } from "../types.ts";

/** The IPC messages between the server and a runner process; all plain data. */

/**
 * The calls that use a llama.cpp context of their own besides the generation context, created on
 * the call's first use: embeddings and ranking.
 */
export type ExtraContext = "embed" | "rank";

export type RunnerOptions = Omit<LlamaCppEngineOptions, "log">;

export type ToRunner =
  | { type: "init"; options: RunnerOptions }
  | { type: "generate"; req: GenerateRequest }
  | { type: "cancel"; id: string }
  | { type: "snapshot"; rid: number }
  /** Requests answered by one `result` (or `failed`) message with the same rid. */
  | { type: "embed"; rid: number; model: string; inputs: (string | number[])[] }
  | { type: "rank"; rid: number; model: string; query: string; documents: string[] }
  | { type: "tokenize"; rid: number; model: string; text: string; addSpecial: boolean; withPieces: boolean }
  | { type: "detokenize"; rid: number; model: string; tokens: number[] }
  | { type: "countTokens"; rid: number; model: string; prompt: Prompt; options: PromptOptions }
  /** The caller of an `embed` or `rank` went away: stop before the next input. */
  | { type: "abortCall"; rid: number }
  | { type: "shutdown" };

/** What each rid-answered call resolves to. */
export interface CallResults {
  embed: { vectors: number[][]; promptTokens: number };
  rank: { scores: number[]; promptTokens: number };
  tokenize: { tokens: number[]; pieces?: string[] };
  detokenize: { content: string };
  countTokens: { promptTokens: number };
}

/** One step's events for every request that had any: one message per step, not per token. */
export interface StepItem { id: string; event: EngineEvent }

export type FromRunner =
  | {
    type: "loaded";
    state: "loaded" | "failed";
    contextSize: number;
    error?: string;
    threads: number;
    /** The most bytes of text one token stands for, when the tokenizer keeps all text (see promptBound.ts). */
    maxTokenBytes?: number;
    chat?: ChatTemplateInfo;
    /** Resident memory of the runner before and after loading the model. */
    rssBeforeBytes: number;
    rssAfterBytes: number;
  }
  | { type: "accepted"; id: string; promptTokens: number }
  | { type: "rejected"; id: string; error: WireError }
  | { type: "step"; items: StepItem[] }
  | { type: "snapshot"; rid: number; snapshot: ModelSnapshot }
  /** Pushed every second once loaded, so the server knows them without asking. */
  | { type: "usage"; cpuSeconds: number; rssBytes: number }
  | { type: "result"; rid: number; value: CallResults[keyof CallResults] }
  | { type: "failed"; rid: number; error: WireError }
  /** Resident memory before and after the extra context of a call was created (on its first use). */
  | { type: "extraContext"; call: ExtraContext; rssBeforeBytes: number; rssAfterBytes: number }
  | { type: "log"; level: "debug" | "warn" | "error"; message: string };
