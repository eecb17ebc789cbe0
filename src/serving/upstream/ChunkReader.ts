import { newToolCallId, ToolCallReader } from "../../engine/ToolCallReader.ts";
import type { EngineEvent, FinishReason, GenerateRequest, ToolCallEvent, Usage } from "../../engine/types.ts";
import { chatLogprobs, legacyLogprobs } from "./openaiRequest.ts";

/** One chunk of an OpenAI-compatible stream (chat or completions), as far as it is read. */
export interface Chunk {
  choices?: {
    text?: string;
    /** `reasoning_content`: vLLM, llama-server, DeepSeek and Hearth; `reasoning`: vLLM's newer name and OpenRouter's. */
    delta?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null; tool_calls?: { index: number; function?: { name?: string; arguments?: string } }[] };
    logprobs?: { content?: Parameters<typeof chatLogprobs>[0] | null } & Parameters<typeof legacyLogprobs>[0] | null;
    finish_reason?: string | null;
    /** vLLM's: the stop string (or the id of the stop token) that ended the choice. */
    stop_reason?: string | number | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null; completion_tokens_details?: { reasoning_tokens?: number } | null } | null;
  error?: { message?: string; code?: string };
}

/** An upstream's call as it streams: started once its name came, arguments kept until then. */
interface UpstreamCall { index: number; name: string; pending: string; started: boolean }

/**
 * Reads an upstream's streamed chunks into engine events, as a runner would emit them: text (with
 * logprobs), and tool calls, either the upstream's own (its `tool_calls` deltas, passed on as they
 * come) or a forced call's constrained content (read by the same reader as a runner's output).
 * Keeps the finish reason, the usage, and the output text for counting tokens when none is reported.
 */
export class ChunkReader {
  reason: FinishReason | null = null;
  /** Which of the request's stop strings ended it, where the upstream says (vLLM does; OpenAI's API and llama-server do not). */
  stopSequence: string | undefined;
  usage: Usage | null = null;
  /** Everything the model wrote (content, call names and arguments): what is counted without usage. */
  output = "";
  readonly #forced: ToolCallReader | null;
  readonly #logprobs: boolean;
  readonly #stops: readonly string[];
  /** The upstream's calls by its index; ours count in the order they started. */
  readonly #calls = new Map<number, UpstreamCall>();
  #open: UpstreamCall | null = null;
  #madeCalls = false;

  constructor(req: GenerateRequest) {
    const c = req.constraint;
    this.#forced = c?.kind === "json_schema" && c.toolCall ? new ToolCallReader(c.toolCall) : null;
    this.#logprobs = req.logprobs !== undefined;
    this.#stops = req.stop;
  }

  /** Whether any tool call started. */
  get madeCalls(): boolean { return this.#madeCalls; }

  read(chunk: Chunk): EngineEvent[] {
    if (chunk.usage) {
      this.usage = {
        promptTokens: chunk.usage.prompt_tokens ?? 0,
        completionTokens: chunk.usage.completion_tokens ?? 0,
        cachedPromptTokens: chunk.usage.prompt_tokens_details?.cached_tokens ?? 0,
        ...(chunk.usage.completion_tokens_details?.reasoning_tokens !== undefined ? { reasoningTokens: chunk.usage.completion_tokens_details.reasoning_tokens } : {}),
      };
    }
    const choice = chunk.choices?.[0];
    if (!choice) return [];
    if (choice.finish_reason) this.reason = choice.finish_reason === "length" ? "length" : choice.finish_reason === "tool_calls" ? "tool_calls" : "stop";
    if (typeof choice.stop_reason === "string" && this.#stops.includes(choice.stop_reason)) this.stopSequence = choice.stop_reason;
    const out: EngineEvent[] = [];
    const reasoning = choice.delta?.reasoning_content ?? choice.delta?.reasoning ?? "";
    if (reasoning) {
      this.output += reasoning;
      out.push({ type: "reasoning", text: reasoning });
    }
    let text = choice.delta?.content ?? choice.text ?? "";
    this.output += text;
    const lp = choice.logprobs;
    const logprobs = !lp ? [] : lp.content ? chatLogprobs(lp.content) : legacyLogprobs(lp);
    const calls = this.#forced ? this.#forced.push(text) : [];
    if (this.#forced) text = "";
    if (text || logprobs.length > 0) out.push({ type: "text", text, ...(this.#logprobs ? { logprobs } : {}) });
    for (const tc of choice.delta?.tool_calls ?? []) calls.push(...this.#delta(tc.index, tc.function?.name ?? "", tc.function?.arguments ?? ""));
    if (calls.some((e) => e.type === "tool_call_start")) this.#madeCalls = true;
    out.push(...calls);
    return out;
  }

  /** The stream ended: an upstream call still open is done, unless the output was cut short. */
  end(): ToolCallEvent[] {
    const open = this.#open;
    this.#open = null;
    return open?.started && this.reason !== "length" ? [{ type: "tool_call_done", index: open.index }] : [];
  }

  #delta(upstreamIndex: number, name: string, args: string): ToolCallEvent[] {
    this.output += name + args;
    const out: ToolCallEvent[] = [];
    let call = this.#calls.get(upstreamIndex);
    if (!call) {
      // Calls stream one after another: a new one means the one before is complete.
      out.push(...this.end());
      call = { index: this.#calls.size, name: "", pending: "", started: false };
      this.#calls.set(upstreamIndex, call);
      this.#open = call;
    }
    call.name += name;
    if (!call.started && call.name !== "") {
      call.started = true;
      out.push({ type: "tool_call_start", index: call.index, id: newToolCallId(), name: call.name });
    }
    if (!call.started) call.pending += args;
    else if (call.pending + args !== "") {
      out.push({ type: "tool_call_delta", index: call.index, arguments: call.pending + args });
      call.pending = "";
    }
    return out;
  }
}
