import { TokenBias, type LlamaContextSequence, type LlamaGrammar, type LlamaGrammarEvaluationState, type LlamaModel, type SequenceEvaluateOptions, type Token } from "node-llama-cpp";
import { errors, HearthError } from "../../errors.ts";
import { sharedPrefix } from "../../scheduler/chooseSlot.ts";
import { QueueFullError, Scheduler, type Work } from "../../scheduler/Scheduler.ts";
import { Generation } from "../Generation.ts";
import { ToolCallDetector } from "../ToolCallDetector.ts";
import { emptyStepStats } from "../stepStats.ts";
import type { EngineEvent, FinalEvent, FinishReason, GenerateRequest, GeneratedTokenLogprob, StepStats } from "../types.ts";
import type { Grammars } from "./Grammars.ts";
import type { BuiltPrompt } from "./PromptBuilder.ts";
import type { PromptCache } from "./PromptCache.ts";
import type { StateCopier } from "./StateCopier.ts";
import { TokenPieces } from "./TokenPieces.ts";

/** What the loop reports for one request: one of its events. */
export interface Outcome { id: string; event: EngineEvent }

export interface StepLoopOptions {
  model: LlamaModel;
  modelId: string;
  sequences: readonly LlamaContextSequence[];
  scheduler: Scheduler;
  timeoutMs: number;
  /** Called once per step with every request's events of that step. */
  emit: (batch: Outcome[]) => void;
  endTokens: ReadonlySet<Token>;
  /** Compiles requests' output constraints; requests with one are refused without it. */
  grammars?: Grammars;
  /** Copies a prompt prefix's KV state between slots when the scheduler plans it (see Scheduler.admit). */
  copier?: StateCopier;
  /** Keeps what a slot held before another prompt takes it, when that is at least `minSaveTokens`. */
  promptCache?: PromptCache;
  minSaveTokens?: number;
}

/** What node-llama-cpp's evaluateWithMetadata yields: the token, and its probabilities when asked. */
interface Sampled { token: Token; probabilities?: Map<Token, number> }

/** Reading a tool call the model may write (`tool_choice` auto), with the grammars that constrain it once it starts. */
interface ToolReading {
  detector: ToolCallDetector;
  /** Each tool's arguments grammar, compiling since submission; switched to mid-generation. */
  pending: Promise<Map<string, LlamaGrammar>>;
  params: Map<string, LlamaGrammar> | null;
  /** The grammar now in force (none while the model writes text), and the detector phase it is for. */
  state: LlamaGrammarEvaluationState | undefined;
  phase: "text" | "name" | "params" | "done";
}

interface Active {
  req: GenerateRequest;
  tools: ToolReading | null;
  prompt: Token[];
  generation: Generation<GeneratedTokenLogprob>;
  sampling: SequenceEvaluateOptions;
  /** The grammar state of a constrained request, compiling since submission. */
  grammar: Promise<LlamaGrammarEvaluationState> | null;
  generated: Token[];
  slot: number | null;
  reused: number;
  iterator: AsyncGenerator<Sampled, void, void | Token | Token[]> | null;
  cancelled: boolean;
  /** Its final event is out: nothing more is reported for it. */
  ended: boolean;
  submittedAt: number;
  admittedAt: number;
  firstTokenAt: number;
}

type StepResult =
  | { work: Work; ok: true; token?: Token; probabilities?: Map<Token, number>; ended?: boolean }
  | { work: Work; ok: false; error: unknown };

/**
 * The one owner of a model's context: every step admits waiting requests into free slots, runs one
 * prompt chunk or one decode per busy slot, all issued in the same tick in ascending slot order so
 * that node-llama-cpp puts them in one batch and llama.cpp decodes it in one forward pass, then
 * reports that step's events in one message. Cancellations, timeouts and new requests are handled
 * between steps, so nothing else touches engine state.
 */
export class StepLoop {
  readonly #o: StepLoopOptions;
  readonly #active = new Map<string, Active>();
  #running: Promise<void> | null = null;
  /** Moving average of request duration, for Retry-After. */
  #avgRequestMs = 1000;
  readonly #stats: StepStats = emptyStepStats();
  /** Tokens' text and bytes, for logprobs; made on first use. */
  #pieces: TokenPieces | null = null;

  get stats(): StepStats {
    const c = this.#o.promptCache?.stats;
    return { ...this.#stats, ...(c ? { promptCacheEntries: c.entries, promptCacheBytes: c.bytes, promptCacheHits: c.hits, promptCacheHitTokens: c.hitTokens } : {}) };
  }

  constructor(opts: StepLoopOptions) {
    this.#o = opts;
  }

  /**
   * Queues a request whose prompt is already built and checked against the context. Throws the
   * 429 server_overloaded error at once when the queue is full.
   */
  submit(req: GenerateRequest, built: BuiltPrompt): void {
    try {
      this.#o.scheduler.add(req.id, built.tokens, req.tenant);
    } catch (err) {
      if (err instanceof QueueFullError) {
        const perSlot = this.#o.scheduler.queued / Math.max(1, this.#o.sequences.length);
        const retryAfter = Math.min(60, Math.max(1, Math.ceil(((perSlot + 1) * this.#avgRequestMs) / 1000)));
        throw errors.serverOverloaded(this.#o.modelId, this.#o.scheduler.queued, retryAfter);
      }
      throw err;
    }
    const { model, endTokens, grammars } = this.#o;
    const constrained = req.constraint !== undefined;
    let grammar: Promise<LlamaGrammarEvaluationState> | null = null;
    if (req.constraint) {
      grammar = grammars ? grammars.stateFor(req.constraint) : Promise.reject(errors.unsupported("This model does not support constrained output.", "response_format"));
      grammar.catch(() => {}); // reported at admission
    }
    let tools: ToolReading | null = null;
    const declared = req.prompt.kind === "chat" ? req.prompt.tools ?? [] : [];
    if (!constrained && grammars && built.toolCallSyntax && declared.length > 0) {
      const pending = Promise.all(declared.map(async (t) => [t.name, await grammars.grammarFor({ kind: "json_schema", schema: t.parameters ?? { type: "object", properties: {} } })] as const))
        .then((entries) => new Map(entries));
      pending.catch(() => {}); // reported at admission
      const detector = new ToolCallDetector(built.toolCallSyntax, declared.map((t) => t.name));
      // An assistant prefill continued by the reply may already start a call: the detector reads it
      // first (it is not part of the reply, so nothing it releases is reported).
      const last = req.prompt.kind === "chat" ? req.prompt.messages.at(-1) : undefined;
      if (last?.role === "assistant" && !last.toolCalls?.length && last.content) detector.push(last.content);
      tools = { detector, pending, params: null, state: undefined, phase: "text" };
    }
    const { presencePenalty = 0, frequencyPenalty = 0, logitBias, ...s } = req.sampling;
    const generated: Token[] = [];
    const maxTokens = Math.min(req.maxTokens ?? Infinity, this.#o.sequences[0]!.contextSize - built.tokens.length);
    this.#active.set(req.id, {
      req,
      prompt: built.tokens,
      generated,
      generation: new Generation({
        detokenize: (tokens, previous) => model.detokenize(tokens as Token[], false, previous as Token[]),
        // A completed grammar allows only end-of-generation tokens, whichever the model has.
        isEndToken: (t) => endTokens.has(t as Token) || built.stopTokens.has(t as Token) || (constrained && model.isEogToken(t as Token)),
        stop: req.stop,
        maxTokens,
      }),
      sampling: {
        temperature: s.temperature,
        topK: s.topK ?? 0,
        topP: s.topP ?? 1,
        minP: s.minP ?? 0,
        seed: s.seed ?? Math.floor(Math.random() * 0xffffffff),
        yieldEogToken: true,
        // OpenAI's penalties count every token of the completion so far, not a recent window.
        ...(presencePenalty !== 0 || frequencyPenalty !== 0
          ? { repeatPenalty: { punishTokens: () => generated, maxPunishTokens: Math.max(1, maxTokens), penalty: 1, presencePenalty, frequencyPenalty } }
          : {}),
        ...(logitBias && Object.keys(logitBias).length > 0 ? { tokenBias: tokenBias(model, logitBias) } : {}),
        // Auto tool calls: no grammar while the model writes text, the call's grammars once it starts one.
        ...(tools ? { grammarEvaluationState: () => tools.state } : {}),
      },
      grammar,
      tools,
      slot: null,
      reused: 0,
      iterator: null,
      cancelled: false,
      ended: false,
      submittedAt: performance.now(),
      admittedAt: 0,
      firstTokenAt: 0,
    });
    this.#wake();
  }

  /**
   * Stops a request: at once if it still waits, after the current step if it runs. Either way its
   * final event (reason `cancelled`, with what it used) is reported.
   */
  cancel(id: string): void {
    const a = this.#active.get(id);
    if (!a || a.cancelled) return;
    a.cancelled = true;
    if (this.#o.scheduler.dequeue(id)) {
      this.#active.delete(id);
      this.#o.emit([this.#final(a, "cancelled")]);
    } else {
      this.#wake();
    }
  }

  /** Resolves when no request is left (used on shutdown). */
  async drain(): Promise<void> {
    while (this.#running) await this.#running;
  }

  #wake(): void {
    this.#running ??= this.#loop().finally(() => {
      this.#running = null;
      if (!this.#o.scheduler.idle) this.#wake();
    });
  }

  async #loop(): Promise<void> {
    const { scheduler } = this.#o;
    while (!scheduler.idle) {
      const batch: Outcome[] = [];
      await this.#endCancelledAndExpired(batch);
      await this.#admit(batch);
      const work = scheduler.plan();
      if (work.length > 0) await this.#runStep(work, batch);
      if (batch.length > 0) this.#o.emit(batch);
    }
  }

  async #endCancelledAndExpired(batch: Outcome[]): Promise<void> {
    const { scheduler } = this.#o;
    const expired = scheduler.expire();
    // Made only when something expired: an Error captures a stack, and this runs every step.
    const timeout = expired.queued.length + expired.running.length > 0 ? errors.requestTimeout(this.#o.timeoutMs) : undefined;
    for (const id of expired.queued) {
      const a = this.#active.get(id);
      this.#active.delete(id);
      if (a) batch.push(this.#final(a, "timeout", timeout));
    }
    for (const { requestId } of expired.running) {
      const a = this.#active.get(requestId);
      if (!a) continue;
      batch.push(this.#final(a, "timeout", timeout));
      await this.#release(a);
    }
    for (const a of this.#active.values()) {
      if (!a.cancelled || a.slot === null) continue;
      batch.push(this.#final(a, "cancelled"));
      await this.#release(a);
    }
  }

  async #admit(batch: Outcome[]): Promise<void> {
    for (const { requestId, slot, reuse, copyFrom, restoreFrom } of this.#o.scheduler.admit()) {
      const a = this.#active.get(requestId)!;
      a.slot = slot;
      if (a.grammar || a.tools) {
        try {
          if (a.grammar) a.sampling.grammarEvaluationState = await a.grammar;
          if (a.tools) {
            a.tools.params = await a.tools.pending;
            this.#switchToolGrammar(a.tools); // a prefill may have started a call
          }
        } catch (err) {
          batch.push(this.#final(a, "error", HearthError.is(err) ? err : errors.engineFailed(err instanceof Error ? err.message : String(err))));
          await this.#release(a);
          continue;
        }
      }
      const seq = this.#o.sequences[slot]!;
      const replaced = copyFrom !== undefined || restoreFrom !== undefined;
      await this.#keep(seq, seq.nextTokenIndex - (replaced ? 0 : reuse));
      const prefix = a.prompt.slice(0, reuse);
      a.reused = copyFrom !== undefined ? await this.#copyState(slot, prefix, (to) => this.#o.copier!.copy(this.#o.sequences[copyFrom]!, to))
        : restoreFrom !== undefined ? await this.#copyState(slot, prefix, (to) => this.#o.promptCache!.restore(restoreFrom, to))
          : reuse;
      if (restoreFrom !== undefined) this.#o.promptCache?.counted(a.reused);
      a.admittedAt = performance.now();
      this.#stats.cachedPromptTokens += a.reused;
      if (seq.nextTokenIndex > a.reused) await seq.eraseContextTokenRanges([{ start: a.reused, end: seq.nextTokenIndex }]);
    }
  }

  /** Saves what a slot holds into the prompt cache before `lost` of its tokens are erased or overwritten. */
  async #keep(seq: LlamaContextSequence, lost: number): Promise<void> {
    const cache = this.#o.promptCache;
    if (!cache || lost < Math.max(1, this.#o.minSaveTokens ?? 1)) return;
    try {
      await cache.save(seq);
    } catch {
      // Not kept: a later turn is evaluated instead.
    }
  }

  /**
   * Puts another state into slot `to` (a copy from another slot, or a prompt-cache entry) for a
   * prompt starting with `prefix`; returns the prompt tokens it brought: all of `prefix`, or 0 when
   * it failed or brought other tokens (the prompt is then evaluated from the start).
   */
  async #copyState(to: number, prefix: readonly Token[], load: (seq: LlamaContextSequence) => Promise<unknown>): Promise<number> {
    const started = performance.now();
    const seq = this.#o.sequences[to]!;
    try {
      await load(seq);
      if (sharedPrefix(seq.contextTokens, prefix) < prefix.length) throw new Error("the state holds other tokens");
    } catch {
      await seq.eraseContextTokenRanges([{ start: 0, end: seq.nextTokenIndex }]);
      this.#o.scheduler.copyFailed(to);
      return 0;
    }
    this.#stats.stateCopies++;
    this.#stats.copiedPromptTokens += prefix.length;
    this.#stats.stateCopyMs += performance.now() - started;
    return prefix.length;
  }

  /** Issues every slot's work synchronously, in the scheduler's (ascending) order, then waits. */
  async #runStep(work: Work[], batch: Outcome[]): Promise<void> {
    const started = performance.now();
    const pending = work.map((w) => this.#issue(w));
    const results = await Promise.all(pending);
    this.#stats.steps++;
    this.#stats.stepMs += performance.now() - started;
    const finished: Active[] = [];
    for (const r of results) {
      const a = this.#active.get(r.work.requestId)!;
      if (!r.ok) {
        const error = HearthError.is(r.error) ? r.error : errors.engineFailed(r.error instanceof Error ? r.error.message : String(r.error));
        batch.push(this.#final(a, "error", error));
        finished.push(a);
        continue;
      }
      this.#progress(r.work);
      if (r.token === undefined) {
        if (r.ended) {
          const rest = a.tools?.detector.flush();
          if (rest) batch.push({ id: a.req.id, event: { type: "text", text: rest } });
          finished.push(a); // the generator stopped on its own: treat as an end token
        }
        continue;
      }
      if (a.cancelled) continue;
      if (a.generated.length === 0) a.firstTokenAt = performance.now();
      a.generated.push(r.token);
      const top = a.req.logprobs;
      const meta = top !== undefined && r.probabilities ? (this.#pieces ??= new TokenPieces(this.#o.model)).logprobs(r.token, r.probabilities, top) : undefined;
      let text = a.generation.accept(r.token, meta);
      if (a.tools) {
        text = a.tools.detector.push(text);
        if (a.generation.finishReason) text += a.tools.detector.flush();
      }
      const logprobs = a.generation.takeReleased();
      if (text || logprobs.length > 0) batch.push({ id: a.req.id, event: { type: "text", text, ...(top !== undefined ? { logprobs } : {}) } });
      const phase = a.tools?.detector.phase;
      if (phase?.kind === "done") {
        batch.push({ id: a.req.id, event: { type: "tool_call", name: phase.call.name, arguments: phase.call.arguments } });
        a.tools!.phase = "done";
        finished.push(a);
      } else if (a.generation.finishReason) finished.push(a);
      else if (a.tools) this.#switchToolGrammar(a.tools);
    }
    for (const a of finished) {
      if (!a.ended) {
        if (!a.cancelled) this.#avgRequestMs = 0.9 * this.#avgRequestMs + 0.1 * (performance.now() - a.submittedAt);
        const reason = a.cancelled ? "cancelled" : a.generation.finishReason ?? "stop";
        const toolCall = (a.req.constraint?.kind === "json_schema" && a.req.constraint.toolCall === true) || a.tools?.phase === "done";
        batch.push(this.#final(a, reason === "stop" && toolCall ? "tool_calls" : reason));
      }
      await this.#release(a);
    }
  }

  /**
   * Puts the grammar for the detector's phase in force for the next token: none for text, the
   * declared names (and the params prefix) once a call prefix appeared, then the named tool's
   * arguments schema.
   */
  #switchToolGrammar(t: ToolReading): void {
    const phase = t.detector.phase;
    if (phase.kind === t.phase) return;
    t.phase = phase.kind;
    const grammars = this.#o.grammars!;
    if (phase.kind === "text") t.state = undefined;
    else if (phase.kind === "name") t.state = grammars.oneOf(phase.allowed);
    else if (phase.kind === "params") t.state = grammars.stateOf(t.params!.get(phase.name)!);
  }

  /** The request's one final event, with what it used up to now. */
  #final(a: Active, reason: FinishReason, error?: HearthError): Outcome {
    a.ended = true;
    const now = performance.now();
    const admitted = a.admittedAt || now;
    const event: FinalEvent = {
      type: "final",
      reason,
      usage: { promptTokens: a.prompt.length, completionTokens: a.generation.completionTokens, cachedPromptTokens: a.reused },
      timings: {
        queueMs: admitted - a.submittedAt,
        promptMs: (a.firstTokenAt || now) - admitted,
        generationMs: a.firstTokenAt ? now - a.firstTokenAt : 0,
        promptEvaluated: a.admittedAt ? a.prompt.length - a.reused : 0,
        promptCached: a.reused,
        completionTokens: a.generation.completionTokens,
      },
      ...(error ? { error: error.toWire() } : {}),
    };
    return { id: a.req.id, event };
  }

  #issue(w: Work): Promise<StepResult> {
    const a = this.#active.get(w.requestId)!;
    const seq = this.#o.sequences[w.slot]!;
    const fail = (error: unknown): StepResult => ({ work: w, ok: false, error });
    if (w.kind === "prefill" && !w.last) {
      return seq.evaluateWithoutGeneratingNewTokens(a.prompt.slice(w.from, w.to)).then(() => ({ work: w, ok: true }), fail);
    }
    if (w.kind === "prefill") {
      a.iterator = seq.evaluateWithMetadata(a.prompt.slice(w.from, w.to), a.req.logprobs !== undefined ? { probabilities: true } : {}, a.sampling) as AsyncGenerator<Sampled, void, void | Token | Token[]>;
    }
    return a.iterator!.next().then((r): StepResult => (r.done
      ? { work: w, ok: true, ended: true }
      : { work: w, ok: true, token: r.value.token, ...(r.value.probabilities ? { probabilities: r.value.probabilities } : {}) }), fail);
  }

  #progress(w: Work): void {
    if (w.kind === "prefill") {
      this.#stats.promptTokens += w.to - w.from;
      this.#o.scheduler.prefilled(w.slot, w.to, w.last);
    } else {
      this.#stats.decodedTokens++;
      this.#o.scheduler.decoded(w.slot);
    }
  }

  async #release(a: Active): Promise<void> {
    this.#active.delete(a.req.id);
    if (a.slot === null) return;
    const slot = a.slot;
    a.slot = null;
    await a.iterator?.return();
    this.#o.scheduler.release(slot, this.#o.sequences[slot]!.contextTokens);
  }
}

/**
 * OpenAI's logit_bias as node-llama-cpp's TokenBias: each bias is added to the token's logit.
 * TokenBias.set() skips end-of-generation tokens; OpenAI lets a client bias (ban) those too, so the
 * biases go in its map directly (the map node-llama-cpp 3.21.1 hands to llama.cpp's logit-bias sampler).
 */
function tokenBias(model: LlamaModel, logitBias: Record<string, number>): TokenBias {
  const bias = TokenBias.for(model);
  const map = (bias as unknown as { _biases?: Map<Token, number> })._biases;
  for (const [id, value] of Object.entries(logitBias)) {
    if (map instanceof Map) map.set(Number(id) as Token, value);
    else bias.set(Number(id) as Token, { logit: value });
  }
  return bias;
}
