import { fork, type ChildProcess } from "node:child_process";
import { errors, HearthError } from "../../errors.ts";
import { AsyncQueue } from "../../util/AsyncQueue.ts";
import { emptySnapshot } from "../stepStats.ts";
import type { Engine, EngineSnapshot, GenerateRequest, ModelInfo, TokenEvent } from "../types.ts";
import type { FromRunner, RunnerOptions, ToRunner } from "./protocol.ts";

export interface RunnerEngineOptions extends RunnerOptions {
  log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
}

interface InFlight {
  accept: { resolve(promptTokens: number): void; reject(err: unknown): void } | null;
  events: AsyncQueue<TokenEvent>;
}

const RUNNER = new URL("./runnerMain.ts", import.meta.url);
/** Crashes in a row while loading, before the model is marked failed instead of restarted again. */
const MAX_LOAD_CRASHES = 3;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The server's side of a runner process: an Engine whose model lives in a child process, so the
 * HTTP process stays responsive whatever llama.cpp does, and a crash costs one runner. A runner
 * that dies fails its in-flight requests with 503 runner_crashed and is started again.
 */
export class RunnerEngine implements Engine {
  readonly #opts: RunnerEngineOptions;
  readonly #created = Math.floor(Date.now() / 1000);
  readonly #inFlight = new Map<string, InFlight>();
  readonly #snapshots = new Map<number, (s: EngineSnapshot) => void>();
  #child: ChildProcess | null = null;
  #status: ModelInfo;
  #threads = 0;
  #ready: Promise<void> | null = null;
  #markReady: () => void = () => {};
  #closing = false;
  #crashesInARow = 0;
  #startedAt = 0;
  #rid = 0;

  constructor(opts: RunnerEngineOptions) {
    this.#opts = opts;
    this.#status = { id: opts.modelId, status: "loading", created: this.#created, contextSize: opts.contextSize };
  }

  /** The runner's process id, while one runs. */
  get pid(): number | undefined { return this.#child?.pid; }
  get threads(): number { return this.#threads; }
  /** Requests the server is tracking for this runner (0 when idle: nothing leaks). */
  get inFlight(): number { return this.#inFlight.size; }

  /** Starts the runner if needed; resolves when its model is loaded or has failed to load. */
  load(): Promise<void> {
    if (!this.#child && !this.#closing) this.#start();
    return this.#ready ?? Promise.resolve();
  }

  models(): ModelInfo[] {
    return [this.#status];
  }

  async snapshot(): Promise<EngineSnapshot> {
    const child = this.#child;
    if (!child || this.#status.status !== "ready") return emptySnapshot(this.models());
    const rid = ++this.#rid;
    return new Promise((resolve) => {
      this.#snapshots.set(rid, resolve);
      this.#send({ type: "snapshot", rid });
    });
  }

  async *generate(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<TokenEvent> {
    if (req.model !== this.#opts.modelId) throw errors.modelNotFound(req.model);
    if (this.#status.status === "error") throw errors.modelLoadFailed(req.model, this.#status.error ?? "unknown error");
    if (this.#status.status !== "ready") throw errors.modelLoading(req.model);
    const events = new AsyncQueue<TokenEvent>();
    const accepted = new Promise<number>((resolve, reject) => {
      this.#inFlight.set(req.id, { accept: { resolve, reject }, events });
    });
    this.#send({ type: "generate", req });
    const promptTokens = await accepted;
    // Aborting the signal, or the consumer stopping early, cancels the request in the runner.
    const cancel = () => this.abort(req.id);
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      if (signal?.aborted) return;
      yield { type: "accepted", promptTokens };
      yield* events;
    } finally {
      signal?.removeEventListener("abort", cancel);
      if (!events.ended) cancel();
    }
  }

  abort(id: string): void {
    const entry = this.#inFlight.get(id);
    if (!entry) return;
    this.#inFlight.delete(id);
    entry.events.end();
    this.#send({ type: "cancel", id });
  }

  async close(): Promise<void> {
    this.#closing = true;
    const child = this.#child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    this.#send({ type: "shutdown" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  #start(): void {
    this.#status = { ...this.#status, status: "loading" };
    this.#ready = new Promise((resolve) => { this.#markReady = resolve; });
    this.#startedAt = Date.now();
    const child = fork(RUNNER, [], {
      env: { ...process.env, UV_THREADPOOL_SIZE: "1" },
      execArgv: [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
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
        const model = msg.models[0];
        if (model) this.#status = model;
        this.#threads = msg.threads;
        if (model?.status === "ready") this.#opts.log?.("info", `model ${model.id} ready in runner ${this.#child?.pid} (${msg.threads} threads)`);
        this.#markReady();
        return;
      }
      case "accepted": {
        const entry = this.#inFlight.get(msg.id);
        entry?.accept?.resolve(msg.promptTokens);
        if (entry) entry.accept = null;
        return;
      }
      case "rejected": {
        this.#inFlight.get(msg.id)?.accept?.reject(HearthError.fromWire(msg.error));
        this.#inFlight.delete(msg.id);
        return;
      }
      case "step":
        for (const item of msg.items) {
          const entry = this.#inFlight.get(item.id);
          if (!entry) continue;
          if ("error" in item) {
            entry.events.fail(HearthError.fromWire(item.error));
            this.#inFlight.delete(item.id);
          } else {
            entry.events.push(item.event);
            if (item.event.type === "done") {
              entry.events.end();
              this.#inFlight.delete(item.id);
            }
          }
        }
        return;
      case "snapshot":
        this.#snapshots.get(msg.rid)?.(msg.snapshot);
        this.#snapshots.delete(msg.rid);
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
    for (const entry of this.#inFlight.values()) {
      if (entry.accept) entry.accept.reject(crash);
      else entry.events.fail(crash);
    }
    this.#inFlight.clear();
    for (const resolve of this.#snapshots.values()) resolve(emptySnapshot(this.models()));
    this.#snapshots.clear();
    if (this.#closing) return;
    const wasLoading = this.#status.status === "loading";
    if (this.#status.status === "error") return; // a load failure the runner reported: restarting will not help
    this.#opts.log?.("error", `runner for ${this.#opts.modelId} exited (${signal ?? `code ${code}`}); restarting`);
    this.#crashesInARow = wasLoading || Date.now() - this.#startedAt < 60_000 ? this.#crashesInARow + 1 : 1;
    if (wasLoading && this.#crashesInARow >= MAX_LOAD_CRASHES) {
      this.#status = { ...this.#status, status: "error", error: `the runner process crashed ${this.#crashesInARow} times while loading the model` };
      this.#markReady();
      return;
    }
    this.#status = { ...this.#status, status: "loading" };
    const delay = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (this.#crashesInARow - 1));
    setTimeout(() => { if (!this.#closing && !this.#child) this.#start(); }, delay).unref();
  }
}
