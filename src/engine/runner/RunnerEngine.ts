import type { ChildProcess } from "node:child_process";
import { errors, HearthError } from "../../errors.ts";
import { AsyncQueue } from "../../util/AsyncQueue.ts";
import type { Embeddings, Engine, EngineEvent, GenerateRequest, ModelActivity, ModelInfo, ModelSnapshot, Prompt, PromptOptions, Ranking, Tokenized } from "../types.ts";
import { finalEvent } from "../finalEvent.ts";
import { checkRoom, minPromptTokens } from "../promptBound.ts";
import { forkRunner, takePrestarted } from "./prestart.ts";
import type { CallResults, ExtraContext, FromRunner, RunnerOptions, ToRunner } from "./protocol.ts";

export interface RunnerEngineOptions extends RunnerOptions {
  log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
}

interface InFlight {
  accept: { resolve(promptTokens: number): void; reject(err: unknown): void } | null;
  events: AsyncQueue<EngineEvent>;
  promptTokens: number;
  /** Text and tool-call argument events so far: the completion-token count reported if the runner dies. */
  outputs: number;
  startedAt: number;
}

interface PendingCall { resolve(value: unknown): void; reject(err: unknown): void }

/** A call the runner answers once: the message without its rid. */
type CallMessage = Extract<ToRunner, { type: keyof CallResults }> extends infer M ? M extends { rid: number } ? Omit<M, "rid"> : never : never;

/** Crashes in a row while loading, before the model is marked failed instead of restarted again. */
const MAX_LOAD_CRASHES = 3;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * One model in its own runner process, so the HTTP process stays responsive whatever llama.cpp
 * does, and a crash costs one runner: its in-flight requests end with a 503 runner_crashed final
 * event and the runner is started again. One RunnerEngine serves one load of its model: the model
 * router makes a new one to load the model again after an unload.
 */
export class RunnerEngine implements Engine {
  readonly #opts: RunnerEngineOptions;
  readonly #created = Math.floor(Date.now() / 1000);
  readonly #inFlight = new Map<string, InFlight>();
  readonly #snapshots = new Map<number, (s: ModelSnapshot | null) => void>();
  readonly #calls = new Map<number, PendingCall>();
  readonly #extraMemory = new Map<ExtraContext, { beforeBytes: number; afterBytes: number }>();
  #child: ChildProcess | null = null;
  #info: ModelInfo;
  #threads = 0;
  /** The most bytes of text one of the model's tokens stands for, when its tokenizer keeps all text. */
  #maxTokenBytes: number | undefined;
  #memory = { beforeBytes: 0, afterBytes: 0 };
  /** What the runner last reported unasked (see `usage` in protocol.ts). */
  #usage = { cpuSeconds: 0, rssBytes: 0 };
  #ready: Promise<void> | null = null;
  #markReady: () => void = () => {};
  #closing = false;
  #crashesInARow = 0;
  #startedAt = 0;
  #rid = 0;

  constructor(opts: RunnerEngineOptions) {
    this.#opts = opts;
    this.#info = { id: opts.modelId, state: "available", created: this.#created, contextSize: opts.contextSize };
  }

  get modelId(): string { return this.#opts.modelId; }
  /** The runner's process id, while one runs. */
  get pid(): number | undefined { return this.#child?.pid; }
  get threads(): number { return this.#threads; }
  /** Requests the server is tracking for this runner (0 when idle: nothing leaks). */
  get inFlight(): number { return this.#inFlight.size; }
  /** The runner's resident memory right before and right after it loaded the model. */
  get loadMemory(): { beforeBytes: number; afterBytes: number } { return { ...this.#memory }; }

  /** The runner's resident memory right before and after it created the extra context of a call (embedding, ranking), once it has. */
  extraMemory(call: ExtraContext): { beforeBytes: number; afterBytes: number } | undefined {
    const m = this.#extraMemory.get(call);
    return m ? { ...m } : undefined;
  }

  /** Starts the runner if needed; resolves when its model is loaded or has failed to load. */
  load(): Promise<void> {
    if (!this.#child && !this.#closing && this.#info.state !== "failed") this.#start();
    return this.#ready ?? Promise.resolve();
  }

  info(): ModelInfo {
    return this.#info;
  }

  async snapshot(): Promise<ModelSnapshot | null> {
    const child = this.#child;
    if (!child || this.#info.state !== "loaded") return null;
    const rid = ++this.#rid;
    return new Promise<ModelSnapshot | null>((resolve) => {
      this.#snapshots.set(rid, resolve);
      this.#send({ type: "snapshot", rid });
    });
  }

  activity(): ModelActivity | null {
    if (!this.#child || this.#info.state !== "loaded") return null;
    return { id: this.#opts.modelId, inFlight: this.#inFlight.size, slots: this.#opts.slots, cpuSeconds: this.#usage.cpuSeconds };
  }

  /** The runner's resident memory as it last reported it (0 before it has). */
  get rssBytes(): number { return this.#usage.rssBytes; }

  async *generate(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<EngineEvent> {
    if (req.model !== this.#opts.modelId) throw errors.modelNotFound(req.model);
    if (this.#info.state === "failed") throw errors.modelLoadFailed(req.model, this.#info.error ?? "unknown error");
    if (this.#info.state !== "loaded" || this.#closing) throw errors.modelLoading(req.model);
    this.#refuseOversized(req);
    const events = new AsyncQueue<EngineEvent>();
    const accepted = new Promise<number>((resolve, reject) => {
      this.#inFlight.set(req.id, { accept: { resolve, reject }, events, promptTokens: 0, outputs: 0, startedAt: performance.now() });
    });
    this.#send({ type: "generate", req });
    const promptTokens = await accepted;
    // The runner ends a cancelled request with its final event; until then, events still come.
    const cancel = () => this.#send({ type: "cancel", id: req.id });
    if (signal?.aborted) cancel();
    else signal?.addEventListener("abort", cancel, { once: true });
    let ended = false;
    try {
      yield { type: "accepted", promptTokens };
      for await (const ev of events) {
        if (ev.type === "final") ended = true;
        yield ev;
      }
    } finally {
      signal?.removeEventListener("abort", cancel);
      if (!ended) cancel(); // the consumer stopped reading: stop the work it no longer wants
    }
  }

  async embed(inputs: (string | number[])[], signal?: AbortSignal): Promise<Embeddings> {
    const k = this.#maxTokenBytes;
    // node-llama-cpp's embedding context keeps its last position free: an input takes at most context - 1.
    const limit = this.#info.contextSize - 1;
    inputs.forEach((input, i) => {
      const atLeast = typeof input === "string" && k !== undefined ? minPromptTokens({ kind: "text", text: input }, k) : 0;
      if (atLeast > limit) throw errors.contextLengthExceeded(atLeast, undefined, limit, inputs.length === 1 ? "input" : `input[${i}]`, true);
    });
    return this.#call({ type: "embed", model: this.#opts.modelId, inputs }, signal) as Promise<CallResults["embed"]>;
  }

  async rank(query: string, documents: string[], signal?: AbortSignal): Promise<Ranking> {
    const k = this.#maxTokenBytes;
    // As for embed: node-llama-cpp's ranking context keeps its last position free.
    const limit = this.#info.contextSize - 1;
    if (k !== undefined) {
      const atLeast = (text: string) => minPromptTokens({ kind: "text", text }, k);
      const queryTokens = atLeast(query);
      if (queryTokens > limit) throw errors.contextLengthExceeded(queryTokens, undefined, limit, "query", true);
      documents.forEach((d, i) => {
        const n = queryTokens + atLeast(d);
        if (n > limit) throw errors.contextLengthExceeded(n, undefined, limit, `documents[${i}]`, true);
      });
    }
    return this.#call({ type: "rank", model: this.#opts.modelId, query, documents }, signal) as Promise<CallResults["rank"]>;
  }

  async tokenize(text: string, opts: { addSpecial: boolean; withPieces: boolean }): Promise<Tokenized> {
    // Tokenizing holds the runner's loop, and every request on it, for about half a second per
    // megabyte: a text longer than any prompt the model can take is refused instead.
    const k = this.#maxTokenBytes;
    const most = k !== undefined ? this.#info.contextSize * k : Infinity;
    if (text.length > most / 3 && Buffer.byteLength(text) > most) {
      throw errors.invalidRequest(`'content' is ${Buffer.byteLength(text)} bytes, more than any prompt of this model (its context holds ${this.#info.contextSize} tokens of at most ${k} bytes each: ${most} bytes). Tokenize it in parts.`, "content");
    }
    return this.#call({ type: "tokenize", model: this.#opts.modelId, text, ...opts }) as Promise<CallResults["tokenize"]>;
  }

  async detokenize(tokens: number[]): Promise<string> {
    return ((await this.#call({ type: "detokenize", model: this.#opts.modelId, tokens })) as CallResults["detokenize"]).content;
  }

  async countTokens(prompt: Prompt, options: PromptOptions = {}): Promise<number> {
    // As for tokenize: a prompt whose size alone shows it is longer than the context is not
    // rendered (that would hold the runner's loop); nothing the model could generate from anyway.
    const k = this.#maxTokenBytes;
    const atLeast = k !== undefined && prompt.kind !== "tokens" ? minPromptTokens(prompt, k) : 0;
    if (atLeast > this.#info.contextSize) throw errors.contextLengthExceeded(atLeast, undefined, this.#info.contextSize, prompt.kind === "chat" ? "messages" : "prompt", true);
    const { promptTokens } = await this.#call({ type: "countTokens", model: this.#opts.modelId, prompt, options }) as CallResults["countTokens"];
    return promptTokens;
  }

  /**
   * Refuses, without asking the runner, a prompt whose size alone shows it cannot fit: tokenizing
   * megabytes would hold the runner's loop, and every request on it, for seconds.
   */
  #refuseOversized(req: GenerateRequest): void {
    const k = this.#maxTokenBytes;
    if (k === undefined || req.prompt.kind === "tokens") return;
    const atLeast = minPromptTokens(req.prompt, k);
    checkRoom(req, atLeast, this.#info.contextSize, true);
  }

  /**
   * Sends one call and waits for its answer. Rejects with runner_crashed if the runner exits first;
   * an aborted signal rejects at once and tells the runner to stop.
   */
  #call(msg: CallMessage, signal?: AbortSignal): Promise<unknown> {
    if (this.#info.state === "failed") return Promise.reject(errors.modelLoadFailed(msg.model, this.#info.error ?? "unknown error"));
    if (this.#info.state !== "loaded" || this.#closing || !this.#child) return Promise.reject(errors.modelLoading(msg.model));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const rid = ++this.#rid;
    return new Promise<unknown>((resolve, reject) => {
      const abort = () => {
        this.#calls.delete(rid);
        this.#send({ type: "abortCall", rid });
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", abort, { once: true });
      const done = () => signal?.removeEventListener("abort", abort);
      this.#calls.set(rid, {
        resolve: (v) => { done(); resolve(v); },
        reject: (e) => { done(); reject(e); },
      });
      this.#send({ ...msg, rid } as ToRunner);
    });
  }

  /** Stops the runner: requests still in it end with a runner error. */
  async close(): Promise<void> {
    this.#closing = true;
    const child = this.#child;
    if (!child) return;
    this.#info = { ...this.#info, state: "unloading" };
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    this.#send({ type: "shutdown" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    this.#info = { ...this.#info, state: "available" };
  }

  #start(): void {
    this.#info = { ...this.#info, state: "loading" };
    this.#ready = new Promise((resolve) => { this.#markReady = resolve; });
    this.#startedAt = Date.now();
    const prestarted = takePrestarted(this.#opts.gpu);
    if (prestarted) this.#opts.log?.("info", `model ${this.#opts.modelId} loads in runner ${prestarted.pid}, started ahead of need`);
    const child = prestarted ?? forkRunner();
    this.#child = child;
    child.on("message", (msg: FromRunner) => this.#onMessage(msg));
    child.once("exit", (code, signal) => this.#onExit(child, code, signal));
    const { log: _log, ...options } = this.#opts;
    this.#send({ type: "init", options });
  }

  #send(msg: ToRunner): void {
    const child = this.#child;
    if (child?.connected) child.send(msg, (err) => { if (err) this.#opts.log?.("warn", `runner ipc: ${err.message}`); });
  }

  #onMessage(msg: FromRunner): void {
    switch (msg.type) {
      case "loaded": {
        this.#info = {
          ...this.#info,
          state: msg.state,
          contextSize: msg.contextSize,
          ...(msg.error ? { error: msg.error } : {}),
          ...(msg.chat ? { chat: msg.chat } : {}),
        };
        this.#threads = msg.threads;
        this.#maxTokenBytes = msg.maxTokenBytes;
        this.#memory = { beforeBytes: msg.rssBeforeBytes, afterBytes: msg.rssAfterBytes };
        if (msg.state === "loaded") this.#opts.log?.("info", `model ${this.#opts.modelId} ready in runner ${this.#child?.pid} (${msg.threads} threads)`);
        this.#markReady();
        return;
      }
      case "accepted": {
        const entry = this.#inFlight.get(msg.id);
        if (!entry) return;
        entry.promptTokens = msg.promptTokens;
        entry.accept?.resolve(msg.promptTokens);
        entry.accept = null;
        return;
      }
      case "rejected": {
        this.#inFlight.get(msg.id)?.accept?.reject(HearthError.fromWire(msg.error));
        this.#inFlight.delete(msg.id);
        return;
      }
      case "step":
        for (const { id, event } of msg.items) {
          const entry = this.#inFlight.get(id);
          if (!entry) continue;
          entry.events.push(event);
          if (event.type === "text" || event.type === "tool_call_delta") entry.outputs++;
          if (event.type === "final") {
            entry.events.end();
            this.#inFlight.delete(id);
          }
        }
        return;
      case "usage":
        this.#usage = { cpuSeconds: msg.cpuSeconds, rssBytes: msg.rssBytes };
        return;
      case "snapshot":
        this.#snapshots.get(msg.rid)?.(msg.snapshot);
        this.#snapshots.delete(msg.rid);
        return;
      case "result":
        this.#calls.get(msg.rid)?.resolve(msg.value);
        this.#calls.delete(msg.rid);
        return;
      case "failed":
        this.#calls.get(msg.rid)?.reject(HearthError.fromWire(msg.error));
        this.#calls.delete(msg.rid);
        return;
      case "extraContext":
        this.#extraMemory.set(msg.call, { beforeBytes: msg.rssBeforeBytes, afterBytes: msg.rssAfterBytes });
        this.#opts.log?.("info", `model ${this.#opts.modelId}: ${msg.call === "embed" ? "embedding" : "ranking"} context created (${Math.round((msg.rssAfterBytes - msg.rssBeforeBytes) / 1048576)} MiB more resident memory)`);
        return;
      case "log":
        this.#opts.log?.(msg.level, msg.message);
        return;
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#child = null;
    const crash = errors.runnerCrashed(this.#opts.modelId);
    const now = performance.now();
    for (const entry of this.#inFlight.values()) {
      if (entry.accept) {
        entry.accept.reject(crash);
        continue;
      }
      const usage = { promptTokens: entry.promptTokens, completionTokens: entry.outputs, cachedPromptTokens: 0 };
      entry.events.push(finalEvent("error", usage, { queueMs: 0, promptMs: 0, generationMs: now - entry.startedAt, promptEvaluated: 0 }, crash.toWire()));
      entry.events.end();
    }
    this.#inFlight.clear();
    for (const resolve of this.#snapshots.values()) resolve(null);
    this.#snapshots.clear();
    for (const call of this.#calls.values()) call.reject(crash);
    this.#calls.clear();
    if (this.#closing) return;
    const wasLoading = this.#info.state === "loading";
    if (this.#info.state === "failed") return; // a load failure the runner reported: restarting will not help
    this.#opts.log?.("error", `runner for ${this.#opts.modelId} exited (${signal ?? `code ${code}`}); restarting`);
    this.#crashesInARow = wasLoading || Date.now() - this.#startedAt < 60_000 ? this.#crashesInARow + 1 : 1;
    if (wasLoading && this.#crashesInARow >= MAX_LOAD_CRASHES) {
      this.#info = { ...this.#info, state: "failed", error: `the runner process crashed ${this.#crashesInARow} times while loading the model` };
      this.#markReady();
      return;
    }
    this.#info = { ...this.#info, state: "loading" };
    const delay = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (this.#crashesInARow - 1));
    setTimeout(() => { if (!this.#closing && !this.#child) this.#start(); }, delay).unref();
  }
}
