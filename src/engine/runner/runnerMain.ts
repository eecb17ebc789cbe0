/**
 * A runner process: one loaded model, started by the server with UV_THREADPOOL_SIZE=1 (the
 * thread pool serves node-llama-cpp's native calls; more pool threads than cores compete with
 * ggml's spinning workers). A llama.cpp abort ends this process only; the server restarts it.
 */
import { errors, HearthError } from "../../errors.ts";
import { LlamaCppEngine, loadLlama, type LlamaCppEngineOptions } from "../llamacpp/LlamaCppEngine.ts";
import type { Outcome } from "../llamacpp/StepLoop.ts";
import type { ExtraContext, FromRunner, StepItem, ToRunner } from "./protocol.ts";

const send = (msg: FromRunner) => process.send!(msg);
// A runner started ahead of need (see prestart.ts) loads llama.cpp's library before it knows its model.
const early = process.env.HEARTH_RUNNER_GPU as LlamaCppEngineOptions["gpu"] | undefined;
const llama = early ? loadLlama(early) : undefined;
llama?.catch(() => {}); // a failure shows again, and is reported, when the model loads
let engine: LlamaCppEngine | undefined;
let step: StepItem[] = [];
/** Calls under way, by rid: an `abortCall` stops an embed or a rank before its next input. */
const calls = new Map<number, AbortController>();
/** How often the runner tells the server its CPU time and memory, unasked: /health reads them and never waits on this process. */
const USAGE_INTERVAL_MS = 1000;

// Every outcome of one step is reported synchronously by the step loop: flushing on the next
// microtask sends the whole step as one message.
function report(o: Outcome): void {
  if (step.length === 0) queueMicrotask(flush);
  step.push(o);
}

function flush(): void {
  const items = step;
  step = [];
  send({ type: "step", items });
}

function sendUsage(): void {
  const cpu = process.cpuUsage();
  send({ type: "usage", cpuSeconds: (cpu.user + cpu.system) / 1e6, rssBytes: process.memoryUsage.rss() });
}

async function handle(msg: ToRunner): Promise<void> {
  switch (msg.type) {
    case "init": {
      const rssBeforeBytes = process.memoryUsage.rss();
      engine = new LlamaCppEngine({
        ...msg.options, log: (level, message) => send({ type: "log", level, message }),
        ...(llama && early === msg.options.gpu ? { llama } : {}),
      });
      await engine.load();
      const status = engine.status();
      send({
        type: "loaded",
        state: status.state === "loaded" ? "loaded" : "failed",
        contextSize: status.contextSize,
        ...(status.error ? { error: status.error } : {}),
        threads: engine.threads,
        ...(engine.maxTokenBytes !== undefined ? { maxTokenBytes: engine.maxTokenBytes } : {}),
        ...(engine.chat ? { chat: engine.chat } : {}),
        rssBeforeBytes,
        rssAfterBytes: process.memoryUsage.rss(),
      });
      if (status.state === "loaded") {
        sendUsage();
        setInterval(sendUsage, USAGE_INTERVAL_MS).unref();
      }
      return;
    }
    case "generate": {
      try {
        if (!engine) throw errors.modelLoading(msg.req.model);
        const { promptTokens } = engine.submit(msg.req, report);
        send({ type: "accepted", id: msg.req.id, promptTokens });
      } catch (err) {
        const error = HearthError.is(err) ? err : errors.engineFailed(err instanceof Error ? err.message : String(err));
        send({ type: "rejected", id: msg.req.id, error: error.toWire() });
      }
      return;
    }
    case "cancel":
      engine?.abort(msg.id);
      return;
    case "embed":
    case "rank":
    case "tokenize":
    case "detokenize":
    case "countTokens": {
      const controller = new AbortController();
      calls.set(msg.rid, controller);
      try {
        if (!engine) throw errors.modelLoading(msg.model);
        const e = engine;
        const created = (call: ExtraContext) => (rssBeforeBytes: number, rssAfterBytes: number) => send({ type: "extraContext", call, rssBeforeBytes, rssAfterBytes });
        const value = msg.type === "embed"
          ? await e.embed(msg.model, msg.inputs, controller.signal, created("embed"))
          : msg.type === "rank"
            ? await e.rank(msg.model, msg.query, msg.documents, controller.signal, created("rank"))
            : msg.type === "tokenize"
              ? e.tokenize(msg.model, msg.text, { addSpecial: msg.addSpecial, withPieces: msg.withPieces })
              : msg.type === "countTokens"
                ? { promptTokens: e.countTokens(msg.model, msg.prompt, msg.options) }
              : { content: e.detokenize(msg.model, msg.tokens) };
        send({ type: "result", rid: msg.rid, value });
      } catch (err) {
        const error = HearthError.is(err) ? err : errors.engineFailed(err instanceof Error ? err.message : String(err));
        send({ type: "failed", rid: msg.rid, error: error.toWire() });
      } finally {
        calls.delete(msg.rid);
      }
      return;
    }
    case "abortCall":
      calls.get(msg.rid)?.abort();
      return;
    case "snapshot":
      if (engine) send({ type: "snapshot", rid: msg.rid, snapshot: engine.snapshot() });
      return;
    case "shutdown":
      await engine?.close();
      process.exit(0);
  }
}

process.on("message", (msg: ToRunner) => {
  handle(msg).catch((err: unknown) => send({ type: "log", level: "error", message: `runner: ${err instanceof Error ? err.stack : String(err)}` }));
});
// The server going away closes the IPC channel: nothing is left to serve.
process.on("disconnect", () => process.exit(0));
