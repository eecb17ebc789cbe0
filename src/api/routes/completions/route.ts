import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Prompt } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { serveGeneration } from "../../generation.ts";
import type { OpenAIFinishReason, ResponseFormat } from "../../respond.ts";
import { timingsJson, toGenerateRequest, unixNow, usageJson } from "../common.ts";
import { defaultsFor, type RouteDeps } from "../deps.ts";
import { CompletionRequest } from "./schema.ts";

export function completionsRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post("/v1/completions", { schema: { body: CompletionRequest } }, async (request, reply) => {
    const body = request.body;
    if (body.echo === true) throw errors.unsupported("echo is not supported yet.", "echo");
    if (body.suffix != null && body.suffix !== "") throw errors.unsupported("suffix (insertion) is not supported yet.", "suffix");
    if (body.logprobs != null) throw errors.unsupported("logprobs are not supported yet.", "logprobs");
    const job = toGenerateRequest(body, toPrompt(body.prompt), defaultsFor(deps, body.model), body.max_tokens);
    const includeUsage = body.stream_options?.include_usage === true;
    await serveGeneration(deps, request, reply, job, completionFormat(`cmpl-${randomUUID().replaceAll("-", "")}`, body.model, includeUsage), {
      stream: body.stream === true,
      includeUsage,
    });
  });
}

function toPrompt(prompt: CompletionRequest["prompt"]): Prompt {
  if (typeof prompt === "string") return { kind: "text", text: prompt };
  if (prompt.every((p): p is string => typeof p === "string")) return { kind: "text", text: prompt[0] ?? "" };
  return { kind: "tokens", tokens: prompt as number[] };
}

/** OpenAI's text_completion object, streamed as the same object with partial text. */
function completionFormat(id: string, model: string, includeUsage: boolean): ResponseFormat {
  const created = unixNow();
  const chunk = (text: string, finishReason: OpenAIFinishReason | null) => ({
    id, object: "text_completion", created, model, system_fingerprint: null,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  return {
    opening: () => null,
    chunk: (text) => chunk(text, null),
    closing: (finishReason, timings) => ({ ...chunk("", finishReason), timings: timingsJson(timings) }),
    usageChunk: (usage) => ({ id, object: "text_completion", created, model, system_fingerprint: null, choices: [], usage: usageJson(usage) }),
    complete: (text, finishReason, usage, timings) => ({ ...chunk(text, finishReason), usage: usageJson(usage), timings: timingsJson(timings) }),
  };
}
