import type { SlotInfo } from "../scheduler/types.ts";

/**
 * The narrow, message-shaped engine interface: plain data in, plain data out, nothing shared.
 * Routes depend on this file only, so the llama.cpp engine can move into a runner process and an
 * upstream engine (llama-server, vLLM, another Hearth) can stand in for it.
 */

export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool";
  content: string;
}

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  minP?: number;
  /** uint32; fixed seeds make sampling repeatable. */
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
}

export type Prompt =
  | { kind: "chat"; messages: ChatMessage[] }
  | { kind: "text"; text: string }
  | { kind: "tokens"; tokens: number[] };

export interface GenerateRequest {
  /** Unique per request; `abort(id)` refers to it. */
  id: string;
  model: string;
  prompt: Prompt;
  /** Undefined: generate until an end token, a stop string or the end of the context. */
  maxTokens?: number;
  /** Up to 4 strings; generation ends before the first one that appears, which is not returned. */
  stop: string[];
  sampling: SamplingParams;
}

export type FinishReason = "stop" | "length";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV state was reused instead of evaluated. */
  cachedPromptTokens: number;
}

/**
 * How one request's time was spent, measured in the runner. Field names follow llama-server's
 * `timings` object (cache_n, prompt_n, prompt_ms, predicted_n, ...), plus the queue wait.
 */
export interface Timings {
  /** Waiting for a slot. */
  queueMs: number;
  /** From getting a slot to the first token: evaluating the prompt. */
  promptMs: number;
  /** From the first token to the last. */
  generationMs: number;
  /** Prompt tokens evaluated (not reused). */
  promptEvaluated: number;
  /** Prompt tokens reused from the slot's KV cells. */
  promptCached: number;
  completionTokens: number;
}

export type TokenEvent =
  /** The request is accepted (model known, prompt fits); sent once, first, before any work is queued. */
  | { type: "accepted"; promptTokens: number }
  /** New text; a character split over several tokens arrives whole. */
  | { type: "text"; text: string }
  | { type: "done"; finishReason: FinishReason; usage: Usage; timings: Timings };

export type EngineStatus = "loading" | "ready" | "error";

export interface ModelInfo {
  id: string;
  status: EngineStatus;
  /** Unix seconds at which the model file was loaded or registered. */
  created: number;
  contextSize: number;
  /** Why loading failed, when status is "error". */
  error?: string;
}

/** Counters of the step loop since the runner started. */
export interface StepStats {
  steps: number;
  /** Wall time spent inside steps (issuing work until its results are back). */
  stepMs: number;
  /** Tokens decoded (one per decoding slot per step). */
  decodedTokens: number;
  /** Prompt tokens evaluated. */
  promptTokens: number;
  /** Prompt tokens reused from a slot's KV cells instead of evaluated. */
  cachedPromptTokens: number;
}

/** Live state for /health and /v1/slots. */
export interface EngineSnapshot {
  models: ModelInfo[];
  queued: number;
  busySlots: number;
  slots: SlotInfo[];
  stats: StepStats;
  /** KV cells holding tokens of running requests, and all cells (slots x context). */
  kvUsedTokens: number;
  kvTotalTokens: number;
  /** Resident memory of the process running the model. */
  rssBytes: number;
}

export interface Engine {
  /**
   * Streams the events of one generation. Rejects with a HearthError for requests the model cannot
   * serve (unknown model, prompt too long). Aborting the signal ends the stream early, without error.
   */
  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<TokenEvent>;
  abort(id: string): void;
  models(): ModelInfo[];
  snapshot(): Promise<EngineSnapshot>;
  close(): Promise<void>;
}
