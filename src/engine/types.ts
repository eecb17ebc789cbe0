import type { WireError } from "../errors.ts";
import type { SlotInfo } from "../scheduler/types.ts";
import type { ModelState } from "../wire/model.ts";

/**
 * What flows between the HTTP layer and the models: plain data in, plain data out, nothing shared.
 * Routes depend on this file for it.
 */

export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool";
  content: string;
  /** An assistant message's reasoning, as an earlier answer gave it: the template decides whether it is kept. */
  reasoning?: string;
  /** An assistant message's tool calls (OpenAI's `tool_calls`): arguments are JSON text. */
  toolCalls?: ToolCall[];
  /** A tool message's answer to this call id (OpenAI's `tool_call_id`). */
  toolCallId?: string;
}

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as the model (or the client) wrote it. */
  arguments: string;
}

/** A function the model may call, rendered into the prompt by the chat template. */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** A JSON schema of the arguments object. */
  parameters?: object;
}

/**
 * How a forced tool call's constrained output is shaped: the named function's arguments object, one
 * `{"name": ..., "arguments": {...}}` object (`required`), or an array of those (`required` with
 * parallel calls). The grammar emits the keys in this order.
 */
export type ToolCallShape = { kind: "arguments"; name: string } | { kind: "wrapped" } | { kind: "array" };

/**
 * A grammar that constrains what the model may emit, built and cached in the runner. `json`: any
 * JSON object; `json_schema`: JSON matching the schema (checked beforehand against the keywords
 * the grammar can express). Generation ends when the grammar completes. With `toolCall`, the
 * output is tool calls of that shape: the engine reads them into tool call events (no text), and
 * a completed grammar ends the request with reason `tool_calls`.
 */
export type OutputConstraint =
  | { kind: "json" }
  | { kind: "json_schema"; schema: object; toolCall?: ToolCallShape };

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  minP?: number;
  /** uint32; fixed seeds make sampling repeatable. */
  seed?: number;
  /** OpenAI's: subtracted from a token's logit once it appeared in the completion, whole completion. */
  presencePenalty?: number;
  /** OpenAI's: subtracted from a token's logit per time it appeared in the completion, whole completion. */
  frequencyPenalty?: number;
  /**
   * OpenAI's `logit_bias`: token id (decimal string) -> bias -100..100, added to the token's logit
   * (-100 about bans it, +100 about forces it). Ids are checked against the vocabulary at submission.
   */
  logitBias?: Record<string, number>;
}

/** One token with its log probability (natural log), as OpenAI reports it. */
export interface TokenLogprob {
  token: string;
  /** The token's UTF-8 bytes (a token may hold part of a character). */
  bytes: number[];
  logprob: number;
}

/** A generated token's log probability and the most likely alternatives at its position, most likely first. */
export interface GeneratedTokenLogprob extends TokenLogprob {
  top: TokenLogprob[];
}

export type Prompt =
  /** `parallelToolCalls` false: at most one call per reply (OpenAI's `parallel_tool_calls`). */
  | { kind: "chat"; messages: ChatMessage[]; tools?: ToolDefinition[]; parallelToolCalls?: boolean }
  | { kind: "text"; text: string }
  | { kind: "tokens"; tokens: number[] };

export interface GenerateRequest {
  /** Unique per request. */
  id: string;
  model: string;
  prompt: Prompt;
  /** Undefined: generate until an end token, a stop string or the end of the context. */
  maxTokens?: number;
  /** Up to 4 strings; generation ends before the first one that appears, which is not returned. */
  stop: string[];
  sampling: SamplingParams;
  /**
   * How long the model stays loaded after this request, in seconds (Ollama's `keep_alive`): 0
   * unloads it after the response, a negative value keeps it loaded. Undefined: the model's default.
   */
  keepAliveSeconds?: number;
  /** Who asks (an API key's name): when requests wait for slots, tenants take turns. */
  tenant?: string;
  /** The client's own end-user id (OpenAI's `user`), for the usage log. */
  user?: string;
  /** The HTTP route (so the protocol) it came in by, for the usage log; by default its endpoint's OpenAI route. */
  route?: string;
  /** Constrains the output with a grammar (structured output, forced tool calls). */
  constraint?: OutputConstraint;
  /**
   * Report each generated token's log probability with this many alternatives (0..20) in the text
   * events; undefined: none. They are the probabilities of the distribution the token was sampled
   * from (after logit bias, penalties, grammar, top-k/top-p/min-p and temperature; greedy: the whole
   * vocabulary after bias and penalties).
   */
  logprobs?: number;
  /** Chat template options: variables such as Qwen3's `enable_thinking`, and gpt-oss's reasoning effort. */
  template?: TemplateOptions;
}

/** What, besides the prompt itself, decides how a prompt is rendered into tokens. */
export type PromptOptions = Pick<GenerateRequest, "template" | "constraint">;

/** A chat request's template options (`chat_template_kwargs`, `reasoning_effort`). */
export interface TemplateOptions {
  kwargs?: Record<string, unknown>;
  reasoningEffort?: string;
}

/**
 * Why a request ended. `stop`, `length` and `tool_calls` (a constrained tool call completed) are
 * OpenAI's; `cancelled` (the client went away),
 * `timeout` and `error` end a request that a client never sees finish normally.
 */
export type FinishReason = "stop" | "length" | "tool_calls" | "cancelled" | "timeout" | "error";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV state was reused instead of evaluated. */
  cachedPromptTokens: number;
  /** Completion tokens spent reasoning (inside the thinking block, its markers included). */
  reasoningTokens?: number;
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

/** The last event of every accepted request: exactly one, whatever ended it. */
export interface FinalEvent {
  type: "final";
  reason: FinishReason;
  usage: Usage;
  timings: Timings;
  /** Set when reason is `timeout` or `error`: what the client is told. */
  error?: WireError;
  /** Set when reason is `stop` because one of the request's stop strings appeared: which one (Anthropic's `stop_sequence`). */
  stopSequence?: string;
}

export type EngineEvent =
  /** The request is accepted (model known, prompt fits); sent once, first, before any work is queued. */
  | { type: "accepted"; promptTokens: number }
  /**
   * New text; a character split over several tokens arrives whole. With `logprobs` asked for: the
   * tokens whose text this event completes (a token held back, for an incomplete character or a
   * possible stop string, is reported with the event that releases the last of its text; tokens of
   * a stop string and end tokens are not reported).
   */
  | { type: "text"; text: string; logprobs?: GeneratedTokenLogprob[] }
  /** New reasoning text (a thinking model's thoughts, apart from the answer), whole characters. */
  | { type: "reasoning"; text: string }
  | ToolCallEvent
  | FinalEvent;

/**
 * A tool call, in pieces, however it was made: read from a forced call's constrained output, written
 * by the model in its chat template's syntax (`tool_choice` auto: once the call is complete, after
 * the text that is the message content), or streamed by an upstream server. `index` counts the
 * calls of one request from 0; `id` is made once, here in the engine. The arguments are JSON text
 * exactly as the model wrote it, possibly in several deltas. A call cut short (max_tokens) is
 * never done.
 */
export type ToolCallEvent =
  | { type: "tool_call_start"; index: number; id: string; name: string }
  | { type: "tool_call_delta"; index: number; arguments: string }
  | { type: "tool_call_done"; index: number };

export interface ModelInfo {
  id: string;
  state: ModelState;
  /** Unix seconds at which the model was registered. */
  created: number;
  /** Tokens of context per slot. */
  contextSize: number;
  /** Why the model failed to load, when state is "failed". */
  error?: string;
  aliases?: string[];
  /** The GGUF file's size. */
  sizeBytes?: number;
  /** What loading it is expected to take (weights, KV cache for every slot, compute buffers). */
  memoryEstimateBytes?: number;
  /** What it takes now, when loaded (its runner process's resident memory). */
  memoryBytes?: number;
  pinned?: boolean;
  /** Once loaded: how its chat prompts are rendered. */
  chat?: ChatTemplateInfo;
  /** While loaded and idle: when its keep-alive runs out and it is unloaded (epoch ms); absent while it serves or when it stays loaded. */
  unloadsAt?: number;
}

/** A loaded model's chat template, as /v1/models shows it. */
export interface ChatTemplateInfo {
  /** The family node-llama-cpp recognizes (its chat wrapper's name: `Qwen`, `Harmony`, `Llama 3.1`, ...). */
  family: string;
  /** What renders the prompts: `JinjaTemplate` (the template itself) or a family wrapper. */
  wrapper: string;
  /** Where the template comes from: the GGUF file, or the model's `chat_template` file. */
  source: "gguf" | "file";
  /** Whether reasoning is read apart from the answer. */
  reasoning: boolean;
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
  /** Prompt tokens reused from a slot's KV cells instead of evaluated (copied ones included). */
  cachedPromptTokens: number;
  /** KV state copies into a slot (from another slot, or a prompt-cache restore), the prompt tokens they brought, and their time. */
  stateCopies: number;
  copiedPromptTokens: number;
  stateCopyMs: number;
  /** The prompt cache in host memory (cache.prompt_ram_bytes): its entries and bytes, restores and the prompt tokens they brought. */
  promptCacheEntries?: number;
  promptCacheBytes?: number;
  promptCacheHits?: number;
  promptCacheHitTokens?: number;
}

/** Live state of one loaded model, for /health, /v1/slots and /metrics. */
export interface ModelSnapshot {
  id: string;
  queued: number;
  busySlots: number;
  slots: SlotInfo[];
  stats: StepStats;
  /** KV cells holding tokens of running requests, and all cells (slots x context). */
  kvUsedTokens: number;
  kvTotalTokens: number;
  /** Resident memory of the process running the model. */
  rssBytes: number;
  /** CPU time of the process running the model, user plus system, since it started. */
  cpuSeconds: number;
}

/**
 * What the server process knows of a loaded model without asking its runner, for /health, which
 * must never wait on a model's work: requests sent to it and not ended yet (waiting or running),
 * its slots, and the CPU time its runner last reported (runners push it, so a busy one reads stale).
 */
export interface ModelActivity {
  id: string;
  inFlight: number;
  slots: number;
  cpuSeconds: number;
}

/** Every loaded model's live figures, for /v1/slots and /metrics. */
export interface ServerSnapshot {
  models: ModelSnapshot[];
}

export interface Embeddings {
  /** One vector per input, in order, L2-normalized, each the model's embedding width. */
  vectors: number[][];
  /** Tokens evaluated (BOS/EOS the model adds included). */
  promptTokens: number;
}

export interface Ranking {
  /**
   * One relevance score per document, in order: the model's probability (0 to 1) that the document
   * is relevant to the query (the sigmoid of a BERT head's logit; a Qwen3 head's softmax of yes/no).
   */
  scores: number[];
  /** Tokens evaluated: every document with the query, in the model's rerank template (or BOS/EOS/SEP). */
  promptTokens: number;
}

export interface Tokenized {
  tokens: number[];
  /** Each token's text, when asked for. */
  pieces?: string[];
}

/**
 * The engine contract: one model's inference, plain data in and plain data out. A runner engine
 * (src/engine/runner) implements it for a local model in its own process; served models
 * (src/serving) add loading, names and defaults around it.
 */
export interface Engine {
  /**
   * Streams the events of one generation: `accepted`, text, then exactly one `final` event.
   * Rejects before `accepted` with a HearthError for requests the model cannot take (prompt too
   * long, queue full, not loaded). Aborting the signal ends the request soon after, still with a
   * final event (reason `cancelled`), so a consumer that reads on sees what it used.
   */
  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<EngineEvent>;
  /**
   * Embeddings of texts or token ids. Rejects with a 400 HearthError (param `input`) for an empty
   * input, a token id outside the vocabulary or an input longer than the context.
   */
  embed(inputs: (string | number[])[], signal?: AbortSignal): Promise<Embeddings>;
  /**
   * Scores documents for their relevance to a query, with a reranker (a model with a rank head).
   * Rejects with a 400 HearthError for a model that is not a reranker (param `model`), an empty
   * list (`documents`), or a query and document longer than the context (`documents[i]`, or
   * `query` when the query alone is). Aborting the signal stops before the next document.
   */
  rank(query: string, documents: string[], signal?: AbortSignal): Promise<Ranking>;
  /** The model's tokens for a text (special tokens parsed; `addSpecial` adds BOS when the model wants it), with each token's text when asked. */
  tokenize(text: string, opts: { addSpecial: boolean; withPieces: boolean }): Promise<Tokenized>;
  /** The text of token ids (special tokens rendered); 400 (param `tokens`) for an id outside the vocabulary. */
  detokenize(tokens: number[]): Promise<string>;
  /**
   * The tokens a generation of this prompt would evaluate (the chat template applied, the tools
   * rendered): the `accepted` event's promptTokens for the same prompt and options. Options that
   * change the rendering (template options, and a constraint, after which a thinking model's reply
   * opens with its thinking block) count as they would generate. A model that cannot count exactly
   * refuses with a HearthError.
   */
  countTokens(prompt: Prompt, options?: PromptOptions): Promise<number>;
  /** Live figures, from whatever runs the model; null when it has none to give (not loaded). */
  snapshot(): Promise<ModelSnapshot | null>;
  /** Activity from state at hand, never a call into the model's process; null when not loaded. */
  activity(): ModelActivity | null;
  close(): Promise<void>;
}

/** One request as it ended: what metrics and the usage log record. */
export interface FinishedRequest {
  id: string;
  /** The model id the request was served by (aliases resolved), or the name it asked for. */
  model: string;
  reason: FinishReason;
  /** False when the request was refused before any work (unknown model, queue full, no memory). */
  accepted: boolean;
  usage: Usage;
  timings: Timings;
  /** From the engine receiving the request to its first output (text or a tool call), when there was any. */
  ttftMs: number | null;
  /** From the engine receiving the request to its final event. */
  e2eMs: number;
  error?: { code: string; statusCode: number; type: string };
  tenant?: string;
  user?: string;
  /** chat for chat completions, text for text completions. */
  endpoint: "chat" | "text";
  /** The route it came in by, where its request said. */
  route?: string;
}

/** One upstream server of a model served through others, as metrics report it. */
export interface UpstreamStatus {
  model: string;
  /** Its URL without credentials. */
  upstream: string;
  healthy: boolean;
  inFlight: number;
  /** Since the server started: attempts sent to it, and those that failed (connection, 5xx). */
  requests: number;
  errors: number;
}
