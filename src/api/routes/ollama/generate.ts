import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { ChatMessage, Prompt } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { serveGeneration } from "../../generation.ts";
import { OllamaGenerateResponse } from "../../../wire/ollama.ts";
import type { RouteDeps } from "../deps.ts";
import { clockFor, generationRoute } from "./chat.ts";
import { ollamaGenerateFormat } from "./format.ts";
import { loadOrUnload } from "./loading.ts";
import { ollamaJob } from "./options.ts";
import { OllamaGenerateRequest } from "./schema.ts";

/**
 * POST /api/generate: a prompt answered through the model's chat template (with `system` before
 * it), or, with `raw`, continued as plain text. Streamed as NDJSON unless `stream` is false.
 */
export function ollamaGenerateRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post("/api/generate", generationRoute(deps, OllamaGenerateRequest, OllamaGenerateResponse), async (request, reply) => {
    const body = request.body;
    const model = request.record.model!;
    const stream = body.stream !== false;
    if (body.images?.length) throw errors.unsupported("Images are not supported: the models served here read text only.", "images");
    if (body.suffix) throw errors.unsupported("'suffix' (fill-in-the-middle) is not supported.", "suffix");
    if (body.template) throw errors.unsupported("'template' is not supported: the model's own chat template is used (or none, with 'raw').", "template");
    if (body.context?.length) throw errors.unsupported("'context' (deprecated by Ollama) is not supported: Hearth does not return it; keep a conversation with /api/chat.", "context");
    if (!body.prompt) {
      return loadOrUnload(deps, reply, model, body.keep_alive, stream, (reason) => ({
        model: body.model, created_at: new Date().toISOString(), response: "", done: true, done_reason: reason,
      }));
    }
    const clock = clockFor(deps, model);
    const job = ollamaJob(deps, model, body, promptOf(body, body.prompt));
    await serveGeneration(deps, request, reply, [job], ollamaGenerateFormat(body.model, clock), { stream, includeUsage: false });
    return undefined;
  });
}

function promptOf(body: OllamaGenerateRequest, prompt: string): Prompt {
  // Raw: the caller wrote the whole prompt, template included; Ollama ignores `system` then too.
  if (body.raw === true) return { kind: "text", text: prompt };
  const messages: ChatMessage[] = [...(body.system ? [{ role: "system" as const, content: body.system }] : []), { role: "user", content: prompt }];
  return { kind: "chat", messages };
}
