import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { ModelInfo } from "../../engine/types.ts";
import type { HearthError } from "../../errors.ts";
import type { ModelEvent } from "../../wire/modelEvent.ts";
import { PullEvent, type PullResult } from "../../wire/pullEvent.ts";
import { pullModel, pullTarget, type PullProgress } from "../../models/pull/pullModel.ts";
import { toHearthError } from "../errorHandler.ts";
import { eventStream, sendEvent, startSse } from "../sse.ts";
import type { RouteDeps } from "./deps.ts";
import { modelJson } from "./models.ts";

const PullRequest = Type.Object({
  /** `https://...`, `hf:owner/repo/file.gguf` or `s3://bucket/key`; local paths are refused over HTTP. */
  source: Type.String({ minLength: 1, maxLength: 4096 }),
  /** The file name in the models folder (the model id is this without `.gguf`). Default: the source's file name. */
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  /** SSE progress events (the default), or one JSON response when done. */
  stream: Type.Optional(Type.Boolean()),
});

/**
 * POST /v1/models/pull: downloads a model into the models folder, streaming progress as SSE
 * (`event: progress`, then `event: done` with the model, or `event: error`), or answering once with
 * JSON when `stream` is false. Progress also goes to GET /v1/models/events. The model appears in
 * /v1/models only once complete and checked.
 */
export function pullRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post("/v1/models/pull", { config: { access: "admin" }, schema: { body: PullRequest, response: { 200: { content: eventStream(PullEvent) } } } }, async (request, reply) => {
    const { source, name, stream = true } = request.body;
    // Checked before anything is sent, so a bad source or name is a plain 400.
    const pull = modelPull(deps, source, name, clientGone(reply));
    const run = async (): Promise<PullResult> => {
      const { result, model } = await pull.run();
      return {
        id: result.id, size_bytes: result.sizeBytes, sha256: result.sha256, verified: result.verified,
        resumed_from_bytes: result.resumedFromBytes, already_present: result.alreadyPresent,
        ...(model ? { model: modelJson(model) } : {}),
      };
    };
    if (!stream) return run();
    reply.hijack();
    const res = reply.raw;
    startSse(res);
    const send = (event: string, data: object) => sendEvent(res, event, data);
    const onEvent = (e: ModelEvent) => { if (e.type === "pull" && e.pull_id === pull.id && !e.error) send("progress", e); };
    deps.router.events.on("event", onEvent);
    try {
      send("done", await run());
    } catch (err) {
      send("error", deps.report(request, err).toJSON());
    } finally {
      deps.router.events.off("event", onEvent);
      res.end();
    }
    return reply;
  });
}

/** Aborted when the client goes away before the response ended: a pull it started stops (its partial file kept for a resume). */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => { if (!reply.raw.writableEnded) controller.abort(new Error("the client went away")); });
  return controller.signal;
}

/**
 * One pull into the models folder, as the pull routes run it: its source and name checked at once
 * (a bad one throws a 400 before anything is sent), its progress published to the model events
 * (GET /v1/models/events) and to `onProgress`, a failure published too, and the folder scanned once
 * it is done, so that the model is served at once, without waiting for the folder watch.
 */
export function modelPull(deps: RouteDeps, source: string, name: string | undefined, signal: AbortSignal) {
  const id = randomUUID();
  const allowPrivateAddresses = deps.pullAllowPrivateAddresses;
  const target = pullTarget(source, { ...(name !== undefined ? { name } : {}), allowLocal: false, allowPrivateAddresses });
  const publish = (p: PullProgress, error?: HearthError) => deps.router.events.publish({
    type: "pull", pull_id: id, source: p.source, model: p.id, phase: error ? "failed" : p.phase,
    received_bytes: p.receivedBytes, total_bytes: p.totalBytes, bytes_per_second: Math.round(p.bytesPerSecond), eta_seconds: p.etaSeconds,
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
  });
  let last: PullProgress = { source, id: target.id, receivedBytes: 0, totalBytes: null, bytesPerSecond: 0, etaSeconds: null, phase: "connecting" };
  return {
    id,
    target,
    async run(onProgress?: (p: PullProgress) => void): Promise<{ result: Awaited<ReturnType<typeof pullModel>>; model: ModelInfo | undefined }> {
      try {
        const result = await pullModel(source, {
          modelsDir: deps.router.registry.modelsDir, allowLocal: false, allowPrivateAddresses, signal,
          ...(name !== undefined ? { name } : {}),
          onProgress: (p) => { last = p; publish(p); onProgress?.(p); },
        });
        await deps.router.registry.scan();
        return { result, model: deps.router.models().find((m) => m.id === result.id) };
      } catch (err) {
        // Pull watchers hear of it too; the route reports it for its request.
        publish(last, toHearthError(err, deps.bodyLimit));
        throw err;
      }
    },
  };
}
