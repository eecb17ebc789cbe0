import type { FastifyReply } from "fastify";
import type { KeepAlive } from "../../../config/schema.ts";
import type { Static } from "typebox";
import { NDJSON } from "../../respond.ts";
import type { OllamaDoneReason } from "../../../wire/ollama.ts";
import { keepAliveSeconds } from "../common.ts";
import type { RouteDeps } from "../deps.ts";

/**
 * A chat or generate request with nothing to answer, as Ollama's clients send them to manage
 * memory: `keep_alive` 0 unloads the model now (refused with 409 while it serves requests), anything
 * else loads it, to stay loaded that long once idle (absent: its usual keep-alive). Answered with
 * one object, `done_reason` `load` or `unload`; a stream of that one line unless `stream` is false.
 */
export async function loadOrUnload(
  deps: RouteDeps, reply: FastifyReply, model: string, keepAlive: Static<typeof KeepAlive> | null | undefined, stream: boolean,
  answer: (reason: OllamaDoneReason) => object,
): Promise<FastifyReply> {
  const seconds = keepAlive == null ? undefined : keepAliveSeconds(keepAlive);
  let reason: OllamaDoneReason;
  if (seconds === 0) {
    await deps.router.unload(model);
    reason = "unload";
  } else {
    await deps.router.load(model, seconds);
    reason = "load";
  }
  const body = answer(reason);
  return stream ? reply.type(NDJSON.contentType).send(NDJSON.frame(body)) : reply.send(body);
}
