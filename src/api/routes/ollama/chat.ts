import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { ChatMessage } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { serveGeneration } from "../../generation.ts";
import { ndjsonStream } from "../../sse.ts";
import { OllamaChatResponse } from "../../../wire/ollama.ts";
import type { RouteDeps } from "../deps.ts";
import { toolDefinitions } from "../tools.ts";
import { ollamaChatFormat, type RequestClock } from "./format.ts";
import { loadOrUnload } from "./loading.ts";
import { ollamaError, ollamaModel } from "./names.ts";
import type { TSchema } from "typebox";
import { ollamaJob } from "./options.ts";
import { OllamaChatRequest, type OllamaMessageInput } from "./schema.ts";

/**
 * A generation route's options: its body, both of its answers in the OpenAPI document (one JSON
 * object, or NDJSON; the schema documents only: the answer is written with JSON.stringify, as
 * chat's is), the permission step for its model, and Ollama's error shape.
 */
export function generationRoute<B extends TSchema>(deps: RouteDeps, body: B, response: TSchema) {
  return {
    schema: { body, response: { 200: { content: { "application/json": { schema: response }, ...ndjsonStream(response) } } } },
    serializerCompiler: () => JSON.stringify,
    config: { model: ollamaModel(deps.router), errorShape: ollamaError },
  };
}

/** When the request arrived, and whether its model had yet to be loaded. */
export function clockFor(deps: RouteDeps, model: string): RequestClock {
  const id = deps.router.resolveId(model);
  return { startedMs: performance.now(), loading: deps.router.models().find((m) => m.id === id)?.state !== "loaded" };
}

/**
 * POST /api/chat: Ollama's chat, over Hearth's generation path (keys, limits, the response cache,
 * the usage log). Streamed as NDJSON unless `stream` is false (Ollama's default is a stream).
 */
export function ollamaChatRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post("/api/chat", generationRoute(deps, OllamaChatRequest, OllamaChatResponse), async (request, reply) => {
    const body = request.body;
    const model = request.record.model!;
    const stream = body.stream !== false;
    if (!body.messages?.length) {
      return loadOrUnload(deps, reply, model, body.keep_alive, stream, (reason) => ({
        model: body.model, created_at: new Date().toISOString(), message: { role: "assistant", content: "" }, done: true, done_reason: reason,
      }));
    }
    const clock = clockFor(deps, model);
    const tools = toolDefinitions((body.tools ?? []).map((t, i) => ({ ...t.function, path: (field) => `tools.[${i}].function.${field}` })));
    const job = ollamaJob(deps, model, body, { kind: "chat", messages: toChatMessages(body.messages), ...(tools.length > 0 ? { tools } : {}) });
    await serveGeneration(deps, request, reply, [job], ollamaChatFormat(body.model, clock), { stream, includeUsage: false });
    return undefined;
  });
}

/**
 * Ollama's messages as the engine's. Ollama's tool calls have no ids: each call gets one, and a
 * tool message answers the earliest unanswered call of its `tool_name` (without one, the earliest
 * unanswered call), as Ollama's templates pair them.
 */
function toChatMessages(input: readonly OllamaMessageInput[]): ChatMessage[] {
  let unanswered: { id: string; name: string }[] = [];
  return input.map((m, i) => {
    if (m.images?.length) throw errors.unsupported("Images are not supported: the models served here read text only.", `messages.[${i}].images`);
    const message: ChatMessage = { role: m.role, content: m.content ?? "" };
    if (m.role === "assistant") {
      if (m.thinking) message.reasoning = m.thinking;
      if (m.tool_calls?.length) {
        message.toolCalls = m.tool_calls.map((c, j) => ({ id: `call_${i}_${j}`, name: c.function.name, arguments: JSON.stringify(c.function.arguments ?? {}) }));
        unanswered = message.toolCalls.map(({ id, name }) => ({ id, name }));
      }
    } else if (m.role === "tool") {
      const at = m.tool_name ? unanswered.findIndex((c) => c.name === m.tool_name) : 0;
      const call = at >= 0 ? unanswered.splice(at, 1)[0] : undefined;
      if (call) message.toolCallId = call.id;
    }
    return message;
  });
}
