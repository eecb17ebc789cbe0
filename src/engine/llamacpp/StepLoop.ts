import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { errors, HearthError } from "../../errors.ts";
import { sharedPrefix } from "../../scheduler/chooseSlot.ts";
import { QueueFullError, type Scheduler, type Work } from "../../scheduler/Scheduler.ts";
import { emptyStepStats } from "../stepStats.ts";
import type { GenerateRequest, StepStats } from "../types.ts";
import type { Grammars } from "./Grammars.ts";
import { LoopRequest, type Outcome } from "./LoopRequest.ts";
import type { BuiltPrompt } from "./PromptBuilder.ts";
import type { PromptCache } from "./PromptCache.ts";
import type { StateCopier } from "./StateCopier.ts";
import { TokenPieces } from "./TokenPieces.ts";
import type { Utf8Bans } from "./Utf8Guard.ts";

export type { Outcome };

export interface StepLoopOptions {
  model: LlamaModel;
  modelId: string;
  sequences: readonly LlamaContextSequence[];
  scheduler: Scheduler;
  timeoutMs: number;
  /** Called once per step with every request's events of that step. */
  emit: (batch: Outcome[]) => void;
  endTokens: ReadonlySet<Token>;
  /** Special tokens rendered as text (the chat template's reasoning and call markers). */
  markerTokens: ReadonlySet<Token>;
  /** The model's UTF-8 bans (built at load): every request's text stays valid UTF-8. */
  utf8: Utf8Bans;
  /** Compiles requests' output constraints; requests with one are refused without it. */
  grammars?: Grammars;
  /** Copies a prompt prefix's KV state between slots when the scheduler plans it (see Scheduler.admit). */
  copier?: StateCopier;
  /** Keeps what a slot held before another prompt takes it, when that is at least `minSaveTokens`. */
  promptCache?: PromptCache;
  minSaveTokens?: number;
}

type StepResult =
  | { work: Work; ok: true; token?: Token; probabilities?: Map<Token, number>; ended?: boolean }
  | { work: Work; ok: false; error: unknown };

/** What callers hand the loop; it takes them in between steps, in order. */
type Letter = { kind: "submit"; request: LoopRequest } | { kind: "cancel"; id: string };

/**
 * The one owner of a model's context, and only a loop: each turn takes the inbox (submissions and
 * cancellations), ends what was cancelled or expired, admits waiting requests into free slots, runs
 * one prompt chunk or one decode per busy slot (all issued in the same tick in ascending slot order,
 * so that node-llama-cpp puts them in one batch and llama.cpp decodes it in one forward pass), then
 * reports that step's events in one message. Nothing else touches the scheduler or the context.
 * What a token means for its request is the request's business (LoopRequest).
 */
export class StepLoop {
  readonly #o: StepLoopOptions;
  readonly #requests = new Map<string, LoopRequest>();
  #inbox: Letter[] = [];
  /** Submissions in the inbox: they count against the queue's room before the loop takes them. */
  #posted = 0;
  #running: Promise<void> | null = null;
  /** Moving average of request duration, for Retry-After. */
  #avgRequestMs = 1000;
  readonly #stats: StepStats = emptyStepStats();
  /** Tokens' text and bytes, for logprobs; made on first use. */
  #pieces: TokenPieces | null = null;

  constructor(opts: StepLoopOptions) {
    this.#o = opts;
  }

  get stats(): StepStats {
    const c = this.#o.promptCache?.stats;
    return { ...this.#stats, ...(c ? { promptCacheEntries: c.entries, promptCacheBytes: c.bytes, promptCacheHits: c.hits, promptCacheHitTokens: c.hitTokens } : {}) };
  }

  /**
   * Posts a request whose prompt is already built and checked against the context. Throws the
   * 429 server_overloaded error at once when the queue has no room.
   */
  submit(req: GenerateRequest, built: BuiltPrompt): void {
    const { scheduler, sequences } = this.#o;
    if (!scheduler.hasRoom(this.#posted + 1)) {
      const waiting = scheduler.queued + this.#posted;
      const perSlot = waiting / Math.max(1, sequences.length);
      const retryAfter = Math.min(60, Math.max(1, Math.ceil(((perSlot + 1) * this.#avgRequestMs) / 1000)));
      throw errors.serverOverloaded(this.#o.modelId, waiting, retryAfter);
    }
    const request = new LoopRequest(req, built, { model: this.#o.model, endTokens: this.#o.endTokens, markerTokens: this.#o.markerTokens, grammars: this.#o.grammars, contextSize: sequences[0]!.contextSize, utf8: this.#o.utf8 });
    this.#posted++;
    this.#post({ kind: "submit", request });
  }

  /**
   * Stops a request between steps. Whether it waited or ran, its final event (reason `cancelled`,
   * with what it used) is reported.
   */
  cancel(id: string): void {
    this.#post({ kind: "cancel", id });
  }

  /** Resolves when no request is left (used on shutdown). */
  async drain(): Promise<void> {
    while (this.#running) await this.#running;
  }

  #post(letter: Letter): void {
    this.#inbox.push(letter);
    this.#wake();
  }

  #wake(): void {
    this.#running ??= this.#loop().finally(() => {
      this.#running = null;
      if (this.#inbox.length > 0 || !this.#o.scheduler.idle) this.#wake();
    });
  }

  async #loop(): Promise<void> {
    const { scheduler } = this.#o;
    while (this.#inbox.length > 0 || !scheduler.idle) {
      const batch: Outcome[] = [];
      this.#takeInbox(batch);
      if (!scheduler.idle) {
        await this.#endCancelledAndExpired(batch);
        await this.#admit(batch);
        const work = scheduler.plan();
        if (work.length > 0) await this.#runStep(work, batch);
      }
      if (batch.length > 0) this.#o.emit(batch);
    }
  }

  #takeInbox(batch: Outcome[]): void {
    const letters = this.#inbox;
    this.#inbox = [];
    for (const letter of letters) {
      if (letter.kind === "submit") {
        this.#posted--;
        const r = letter.request;
        try {
          this.#o.scheduler.add(r.req.id, r.prompt, r.req.tenant);
        } catch (err) {
          // submit() made sure of the room; should that ever be wrong, the request still ends properly.
          batch.push(r.final("error", err instanceof QueueFullError ? errors.serverOverloaded(this.#o.modelId, this.#o.scheduler.queued, 1) : errors.engineFailed(String(err))));
          continue;
        }
        this.#requests.set(r.req.id, r);
        continue;
      }
      const r = this.#requests.get(letter.id);
      if (!r || r.cancelled) continue;
      r.cancelled = true;
      // Still waiting: it ends now; running: after this step's release (#endCancelledAndExpired).
      if (this.#o.scheduler.dequeue(letter.id)) {
        this.#requests.delete(letter.id);
        batch.push(r.final("cancelled"));
      }
    }
  }

  async #endCancelledAndExpired(batch: Outcome[]): Promise<void> {
    const { scheduler } = this.#o;
    const expired = scheduler.expire();
    // Made only when something expired: an Error captures a stack, and this runs every step.
    const timeout = expired.queued.length + expired.running.length > 0 ? errors.requestTimeout(this.#o.timeoutMs) : undefined;
    for (const id of expired.queued) {
      const r = this.#requests.get(id);
      this.#requests.delete(id);
      if (r) batch.push(r.final("timeout", timeout));
    }
    for (const { requestId } of expired.running) {
      const r = this.#requests.get(requestId);
      if (!r) continue;
      batch.push(r.final("timeout", timeout));
      await this.#release(r);
    }
    for (const r of this.#requests.values()) {
      if (!r.cancelled || r.slot === null) continue;
      batch.push(r.final("cancelled"));
      await this.#release(r);
    }
  }

  async #admit(batch: Outcome[]): Promise<void> {
    for (const { requestId, slot, reuse, copyFrom, restoreFrom } of this.#o.scheduler.admit()) {
      const r = this.#requests.get(requestId)!;
      r.slot = slot;
      try {
        await r.grammarsReady();
      } catch (err) {
        batch.push(r.final("error", HearthError.is(err) ? err : errors.engineFailed(err instanceof Error ? err.message : String(err))));
        await this.#release(r);
        continue;
      }
      const seq = this.#o.sequences[slot]!;
      const replaced = copyFrom !== undefined || restoreFrom !== undefined;
      await this.#keep(seq, seq.nextTokenIndex - (replaced ? 0 : reuse));
      const prefix = r.prompt.slice(0, reuse);
      r.reused = copyFrom !== undefined ? await this.#copyState(slot, prefix, (to) => this.#o.copier!.copy(this.#o.sequences[copyFrom]!, to))
        : restoreFrom !== undefined ? await this.#copyState(slot, prefix, (to) => this.#o.promptCache!.restore(restoreFrom, to))
          : reuse;
      if (restoreFrom !== undefined) this.#o.promptCache?.counted(r.reused);
      r.admittedAt = performance.now();
      this.#stats.cachedPromptTokens += r.reused;
      if (seq.nextTokenIndex > r.reused) await seq.eraseContextTokenRanges([{ start: r.reused, end: seq.nextTokenIndex }]);
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
    const results = await Promise.all(work.map((w) => this.#issue(w)));
    this.#stats.steps++;
    this.#stats.stepMs += performance.now() - started;
    const finished: LoopRequest[] = [];
    const pieces = () => (this.#pieces ??= new TokenPieces(this.#o.model));
    for (const result of results) {
      const r = this.#requests.get(result.work.requestId)!;
      if (!result.ok) {
        const error = HearthError.is(result.error) ? result.error : errors.engineFailed(result.error instanceof Error ? result.error.message : String(result.error));
        batch.push(r.final("error", error));
        finished.push(r);
        continue;
      }
      this.#progress(result.work);
      if (result.token === undefined) {
        if (result.ended) {
          r.flush(batch);
          finished.push(r); // the generator stopped on its own: treat as an end token
        }
        continue;
      }
      if (r.cancelled) continue;
      if (r.accept({ token: result.token, ...(result.probabilities ? { probabilities: result.probabilities } : {}) }, pieces, batch)) finished.push(r);
    }
    for (const r of finished) {
      if (!r.ended) {
        if (!r.cancelled) this.#avgRequestMs = 0.9 * this.#avgRequestMs + 0.1 * (performance.now() - r.submittedAt);
        batch.push(r.final(r.doneReason));
      }
      await this.#release(r);
    }
  }

  #issue(w: Work): Promise<StepResult> {
    const r = this.#requests.get(w.requestId)!;
    const seq = this.#o.sequences[w.slot]!;
    const fail = (error: unknown): StepResult => ({ work: w, ok: false, error });
    if (w.kind === "prefill" && !w.last) {
      return seq.evaluateWithoutGeneratingNewTokens(r.prompt.slice(w.from, w.to)).then(() => ({ work: w, ok: true }), fail);
    }
    if (w.kind === "prefill") r.startSampling(seq, r.prompt.slice(w.from, w.to));
    return r.iterator!.next().then((s): StepResult => (s.done
      ? { work: w, ok: true, ended: true }
      : { work: w, ok: true, token: s.value.token, ...(s.value.probabilities ? { probabilities: s.value.probabilities } : {}) }), fail);
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

  async #release(r: LoopRequest): Promise<void> {
    this.#requests.delete(r.req.id);
    if (r.slot === null) return;
    const slot = r.slot;
    r.slot = null;
    await r.iterator?.return();
    this.#o.scheduler.release(slot, this.#o.sequences[slot]!.contextTokens);
  }
}
