import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { HearthError } from "../../errors.ts";
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
    const pullId = randomUUID();
    // Checked before anything is sent, so a bad source or name is a plain 400.
    const allowPrivateAddresses = deps.pullAllowPrivateAddresses;
    const target = pullTarget(source, { ...(name !== undefined ? { name } : {}), allowLocal: false, allowPrivateAddresses });
    const controller = new AbortController();
    reply.raw.once("close", () => { if (!reply.raw.writableEnded) controller.abort(new Error("the client went away")); });
    const publish = (p: PullProgress, error?: HearthError) => deps.router.events.publish({
      type: "pull", pull_id: pullId, source: p.source, model: p.id, phase: error ? "failed" : p.phase,
      received_bytes: p.receivedBytes, total_bytes: p.totalBytes, bytes_per_second: Math.round(p.bytesPerSecond), eta_seconds: p.etaSeconds,
      ...(error ? { error: { code: error.code, message: error.message } } : {}),
    });
    let last: PullProgress = { source, id: target.id, receivedBytes: 0, totalBytes: null, bytesPerSecond: 0, etaSeconds: null, phase: "connecting" };
    const run = async (): Promise<PullResult> => {
      const result = await pullModel(source, {
        modelsDir: deps.router.registry.modelsDir, allowLocal: false, allowPrivateAddresses, signal: controller.signal,
        ...(name !== undefined ? { name } : {}),
        onProgress: (p) => { last = p; publish(p); },
      });
      await deps.router.registry.scan(); // served at once, without waiting for the folder watch
      const model = deps.router.models().find((m) => m.id === result.id);
      return {
        id: result.id, size_bytes: result.sizeBytes, sha256: result.sha256, verified: result.verified,
        resumed_from_bytes: result.resumedFromBytes, already_present: result.alreadyPresent,
        ...(model ? { model: modelJson(model) } : {}),
      };
    };
    if (!stream) {
      try {
        return await run();
      } catch (err) {
        // Pull watchers hear of it too; the error handler reports it for this request.
        publish(last, toHearthError(err, deps.bodyLimit));
        throw err;
      }
    }
    reply.hijack();
    const res = reply.raw;
    startSse(res);
    const send = (event: string, data: object) => sendEvent(res, event, data);
    const onEvent = (e: ModelEvent) => { if (e.type === "pull" && e.pull_id === pullId && !e.error) send("progress", e); };
    deps.router.events.on("event", onEvent);
    try {
      send("done", await run());
    } catch (err) {
      const mapped = deps.report(request, err);
      publish(last, mapped);
      send("error", mapped.toJSON());
    } finally {
      deps.router.events.off("event", onEvent);
      res.end();
    }
    return reply;
  });
}
