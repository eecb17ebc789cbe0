import type { LlamaContextSequence, LlamaGrammar, LlamaGrammarEvaluationState, LlamaModel, SequenceEvaluateOptions, Token } from "node-llama-cpp";
import { errors, type HearthError } from "../../errors.ts";
import { endedByToolCalls, finalEvent } from "../finalEvent.ts";
import { Generation } from "../Generation.ts";
import { completionBudget } from "../promptBound.ts";
import { ReasoningSplitter } from "../ReasoningSplitter.ts";
import { ToolCallDetector } from "../ToolCallDetector.ts";
import { ToolCallReader, wholeToolCall } from "../ToolCallReader.ts";
import type { EngineEvent, FinishReason, GenerateRequest, GeneratedTokenLogprob, ToolCallEvent } from "../types.ts";
import type { Grammars } from "./Grammars.ts";
import type { BuiltPrompt } from "./PromptBuilder.ts";
import { samplingOptions } from "./samplingOptions.ts";
import type { TokenPieces } from "./TokenPieces.ts";
import type { Utf8Bans, Utf8Guard } from "./Utf8Guard.ts";

/** What the loop reports for one request: one of its events. */
export interface Outcome { id: string; event: EngineEvent }

/** What node-llama-cpp's evaluateWithMetadata yields: the token, and its probabilities when asked. */
export interface Sampled { token: Token; probabilities?: Map<Token, number> }

/** Reading a tool call the model may write (`tool_choice` auto), with the grammars that constrain it once it starts. */
interface ToolReading {
  detector: ToolCallDetector;
  /** Each tool's arguments grammar, compiling since submission; switched to mid-generation. */
  pending: Promise<Map<string, LlamaGrammar>>;
  params: Map<string, LlamaGrammar> | null;
  /** The grammar now in force (none while the model writes text), and the detector phase it is for. */
  state: LlamaGrammarEvaluationState | undefined;
  phase: "text" | "name" | "params" | "between" | "done";
  /** Several calls in one reply, where the syntax allows it (the request's `parallel_tool_calls`). */
  parallel: boolean;
  /** Calls complete so far. */
  made: number;
}

export interface LoopRequestContext {
  model: LlamaModel;
  endTokens: ReadonlySet<Token>;
  /** Special tokens detokenized as text, for the reasoning and tool-call readers. */
  markerTokens: ReadonlySet<Token>;
  grammars: Grammars | undefined;
  contextSize: number;
  /** The model's UTF-8 bans: every request's text stays valid UTF-8, constrained or not. */
  utf8: Utf8Bans;
}

/**
 * One request inside the step loop, from submission to its final event: its prompt, decoding state
 * (generation, stops, limits), grammar and tool-call reading, timings, and the one final event.
 * The loop decides when it runs; this decides what each of its tokens means.
 */
export class LoopRequest {
  readonly req: GenerateRequest;
  readonly prompt: Token[];
  readonly sampling: SequenceEvaluateOptions;
  readonly submittedAt = performance.now();
  slot: number | null = null;
  /** Prompt tokens its slot already held (or got by a state copy), not evaluated. */
  reused = 0;
  iterator: AsyncGenerator<Sampled, void, void | Token | Token[]> | null = null;
  cancelled = false;
  /** Its final event is out: nothing more is reported for it. */
  ended = false;
  admittedAt = 0;
  readonly #ctx: LoopRequestContext;
  readonly #generation: Generation<GeneratedTokenLogprob>;
  readonly #generated: Token[] = [];
  readonly #utf8: Utf8Guard;
  /** The grammar state of a constrained request, compiling since submission. */
  readonly #grammar: Promise<LlamaGrammarEvaluationState> | null;
  readonly #tools: ToolReading | null;
  /** Reads a forced call's constrained output into tool call events. */
  readonly #forced: ToolCallReader | null;
  /** Splits a thinking model's reasoning from its answer, before the answer is read for calls. */
  readonly #reasoning: ReasoningSplitter | null;
  #reasoningTokens = 0;
  #firstTokenAt = 0;

  constructor(req: GenerateRequest, built: BuiltPrompt, ctx: LoopRequestContext) {
    this.req = req;
    this.prompt = built.tokens;
    this.#ctx = ctx;
    const { model, endTokens, markerTokens, grammars } = ctx;
    const constrained = req.constraint !== undefined;
    this.#reasoning = built.reasoning ? new ReasoningSplitter(built.reasoning.syntax, built.reasoning.startInReasoning) : null;
    this.#grammar = null;
    if (req.constraint) {
      this.#grammar = grammars ? grammars.stateFor(req.constraint) : Promise.reject(errors.unsupported("This model does not support constrained output.", "response_format"));
      this.#grammar.catch(() => {}); // reported at admission
    }
    this.#tools = constrained ? null : toolReading(req, built, grammars);
    this.#forced = req.constraint?.kind === "json_schema" && req.constraint.toolCall ? new ToolCallReader(req.constraint.toolCall) : null;
    const maxTokens = completionBudget(req.maxTokens, built.tokens.length, ctx.contextSize);
    const utf8 = this.#utf8 = ctx.utf8.guard(req.sampling);
    this.#generation = new Generation({
      detokenize: (tokens, previous) => model.detokenize(tokens as Token[], tokens.some((t) => markerTokens.has(t as Token)), previous as Token[]),
      // Any end-of-generation token ends the reply, as in llama-server (gpt-oss's <|call|> among them).
      isEndToken: (t) => endTokens.has(t as Token) || built.stopTokens.has(t as Token) || model.isEogToken(t as Token),
      stop: req.stop,
      maxTokens,
      midCharacter: () => utf8.midCharacter,
    });
    const tools = this.#tools;
    const reasoning = this.#reasoning;
    this.sampling = samplingOptions(req.sampling, maxTokens, this.#generated, utf8, tools ? () => tools.state : undefined);
    // A constraint applies to the answer: while the reply is still reasoning, no grammar is in force.
    this.#constraintAfterReasoning = constrained && reasoning !== null && reasoning.inReasoning;
  }

  readonly #constraintAfterReasoning: boolean;

  /** At admission: waits for its grammars (compiling since submission); throws if one failed. */
  async grammarsReady(): Promise<void> {
    if (this.#grammar) {
      const state = await this.#grammar;
      const reasoning = this.#reasoning!;
      this.sampling.grammarEvaluationState = this.#constraintAfterReasoning ? () => (reasoning.inReasoning ? undefined : state) : state;
    }
    if (this.#tools) {
      this.#tools.params = await this.#tools.pending;
      this.#switchToolGrammar(); // a prefill may have started a call
    }
  }

  /** Starts sampling on `seq` after evaluating the prompt's last chunk. */
  startSampling(seq: LlamaContextSequence, lastChunk: Token[]): void {
    this.iterator = seq.evaluateWithMetadata(lastChunk, this.req.logprobs !== undefined ? { probabilities: true } : {}, this.sampling) as AsyncGenerator<Sampled, void, void | Token | Token[]>;
  }

  /**
   * Takes one sampled token: appends the events it releases to `out`; returns true when the
   * request is done (an end, a stop, its limit, or a complete tool call).
   */
  accept(s: Sampled, pieces: () => TokenPieces, out: Outcome[]): boolean {
    if (this.#generated.length === 0) this.#firstTokenAt = performance.now();
    this.#generated.push(s.token);
    this.#utf8.accept(s.token);
    const top = this.req.logprobs;
    const meta = top !== undefined && s.probabilities ? pieces().logprobs(s.token, s.probabilities, top) : undefined;
    let text = this.#generation.accept(s.token, meta);
    let calls: ToolCallEvent[] = [];
    const tools = this.#tools;
    if (this.#reasoning) {
      const thinking = this.#reasoning.inReasoning;
      const split = this.#reasoning.push(text);
      if (this.#generation.finishReason) {
        const rest = this.#reasoning.flush();
        split.reasoning += rest.reasoning;
        split.content += rest.content;
      }
      if (thinking || this.#reasoning.inReasoning) this.#reasoningTokens++;
      if (split.reasoning) out.push({ id: this.req.id, event: { type: "reasoning", text: split.reasoning } });
      text = split.content;
    }
    if (this.#forced) {
      calls = this.#forced.push(text);
      text = "";
    } else if (tools) {
      text = tools.detector.push(text);
      if (this.#generation.finishReason) text += tools.detector.flush();
    }
    // A forced call's tokens have no text of their own; their logprobs still come, in a text event with empty text.
    const logprobs = this.#generation.takeReleased();
    if (text || logprobs.length > 0) out.push({ id: this.req.id, event: { type: "text", text, ...(top !== undefined ? { logprobs } : {}) } });
    const phase = tools?.detector.phase;
    let ended = false;
    if (phase?.kind === "done") {
      calls = wholeToolCall(tools!.made++, phase.call);
      // Another call may follow where the family allows several; otherwise the reply ends with this one.
      if (!(tools!.parallel && !this.#generation.finishReason && tools!.detector.next())) {
        tools!.phase = "done";
        ended = true;
      }
    }
    for (const event of calls) out.push({ id: this.req.id, event });
    if (ended) return true;
    if (this.#generation.finishReason) return true;
    if (tools) this.#switchToolGrammar();
    return false;
  }

  /** The generator stopped on its own (as at an end token): text the tool reader still held. */
  flush(out: Outcome[]): void {
    const split = this.#reasoning?.flush();
    if (split?.reasoning) out.push({ id: this.req.id, event: { type: "reasoning", text: split.reasoning } });
    let rest = split?.content ?? "";
    if (this.#tools) rest = this.#tools.detector.push(rest) + this.#tools.detector.flush();
    if (rest) out.push({ id: this.req.id, event: { type: "text", text: rest } });
  }

  /** Why it ended once done by itself: a complete tool call, or the generation's own reason. */
  get doneReason(): FinishReason {
    if (this.cancelled) return "cancelled";
    return endedByToolCalls(this.#generation.finishReason ?? "stop", this.#forced !== null || (this.#tools?.made ?? 0) > 0);
  }

  /** The request's one final event, with what it used up to now. */
  final(reason: FinishReason, error?: HearthError): Outcome {
    this.ended = true;
    const now = performance.now();
    const admitted = this.admittedAt || now;
    const usage = {
      promptTokens: this.prompt.length, completionTokens: this.#generation.completionTokens, cachedPromptTokens: this.reused,
      ...(this.#reasoning ? { reasoningTokens: this.#reasoningTokens } : {}),
    };
    const event = finalEvent(reason, usage, {
      queueMs: admitted - this.submittedAt,
      promptMs: (this.#firstTokenAt || now) - admitted,
      generationMs: this.#firstTokenAt ? now - this.#firstTokenAt : 0,
      ...(this.admittedAt ? {} : { promptEvaluated: 0 }),
    }, error?.toWire(), this.#generation.stopSequence);
    return { id: this.req.id, event };
  }

  /**
   * Puts the grammar for the detector's phase in force for the next token: none for text, the
   * declared names (and the params prefix) once a call prefix appeared, then the named tool's
   * arguments schema.
   */
  #switchToolGrammar(): void {
    const t = this.#tools!;
    const phase = t.detector.phase;
    if (phase.kind === t.phase) return;
    t.phase = phase.kind;
    const grammars = this.#ctx.grammars!;
    if (phase.kind === "text") t.state = undefined;
    else if (phase.kind === "name") t.state = grammars.oneOf(phase.allowed);
    else if (phase.kind === "params") t.state = grammars.stateOf(t.params!.get(phase.name)!);
    else if (phase.kind === "between") t.state = grammars.oneOf(phase.allowed);
  }
}

/** The tool-call reader of a chat request that declares tools, on a model whose template has a call syntax. */
function toolReading(req: GenerateRequest, built: BuiltPrompt, grammars: Grammars | undefined): ToolReading | null {
  const declared = req.prompt.kind === "chat" ? req.prompt.tools ?? [] : [];
  if (!grammars || !built.toolCallSyntax || declared.length === 0) return null;
  const pending = Promise.all(declared.map(async (t) => [t.name, await grammars.grammarFor({ kind: "json_schema", schema: t.parameters ?? { type: "object", properties: {} } })] as const))
    .then((entries) => new Map(entries));
  pending.catch(() => {}); // reported at admission
  const detector = new ToolCallDetector(built.toolCallSyntax, declared.map((t) => t.name));
  // An assistant prefill continued by the reply may already start a call: the detector reads it
  // first (it is not part of the reply, so nothing it releases is reported).
  const last = req.prompt.kind === "chat" ? req.prompt.messages.at(-1) : undefined;
  if (last?.role === "assistant" && !last.toolCalls?.length && last.content) detector.push(last.content);
  const parallel = req.prompt.kind === "chat" && req.prompt.parallelToolCalls !== false;
  return { detector, pending, params: null, state: undefined, phase: "text", parallel, made: 0 };
}
