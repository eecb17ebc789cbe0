import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { ChatMessage } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { serveGeneration } from "../../generation.ts";
import type { OpenAIFinishReason, ResponseFormat } from "../../respond.ts";
import { timingsJson, toGenerateRequest, unixNow, usageJson } from "../common.ts";
import { defaultsFor, type RouteDeps } from "../deps.ts";
import { ChatCompletionRequest, type ChatMessageInput } from "./schema.ts";

export function chatCompletionsRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post("/v1/chat/completions", { schema: { body: ChatCompletionRequest } }, async (request, reply) => {
    const body = request.body;
    rejectUnsupported(body);
    const job = toGenerateRequest(body, { kind: "chat", messages: body.messages.map(toChatMessage) }, defaultsFor(deps, body.model), body.max_completion_tokens ?? body.max_tokens);
    const format = chatFormat(`chatcmpl-${randomUUID().replaceAll("-", "")}`, body.model, body.stream_options?.include_usage === true);
    await serveGeneration(deps, request, reply, job, format, {
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    });
  });
}

/** Features OpenAI has and this engine does not yet: a clear 400 beats a silently ignored field. */
function rejectUnsupported(body: ChatCompletionRequest): void {
  if (body.tools != null && body.tools.length > 0) throw errors.unsupported("Tool calling is not supported yet.", "tools");
  const format = body.response_format?.type;
  if (format != null && format !== "text") throw errors.unsupported(`response_format '${format}' is not supported yet; use 'text'.`, "response_format.type");
  if (body.logprobs === true) throw errors.unsupported("logprobs are not supported yet.", "logprobs");
}

function toChatMessage(m: ChatMessageInput, i: number): ChatMessage {
  if (m.role === "tool") throw errors.unsupported("Tool messages are not supported yet.", `messages.[${i}].role`);
  if (m.content == null) {
    if (m.role === "assistant") return { role: m.role, content: "" };
    throw errors.invalidRequest(`Missing content for a '${m.role}' message.`, `messages.[${i}].content`);
  }
  if (typeof m.content === "string") return { role: m.role, content: m.content };
  const texts = m.content.map((part, j) => {
    if (part.type !== "text") throw errors.unsupported(`Content part type '${part.type}' is not supported by this model; only 'text' is.`, `messages.[${i}].content.[${j}].type`);
    if (typeof part.text !== "string") throw errors.invalidRequest("A text content part needs 'text'.", `messages.[${i}].content.[${j}].text`);
    return part.text;
  });
  return { role: m.role, content: texts.join("\n") };
}

/** OpenAI's chat.completion and chat.completion.chunk objects. */
function chatFormat(id: string, model: string, includeUsage: boolean): ResponseFormat {
  const created = unixNow();
  const chunk = (delta: object, finishReason: OpenAIFinishReason | null) => ({
    id, object: "chat.completion.chunk", created, model, system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  return {
    opening: () => chunk({ role: "assistant", content: "", refusal: null }, null),
    chunk: (text) => chunk({ content: text }, null),
    closing: (finishReason, timings) => ({ ...chunk({}, finishReason), timings: timingsJson(timings) }),
    usageChunk: (usage) => ({ id, object: "chat.completion.chunk", created, model, system_fingerprint: null, choices: [], usage: usageJson(usage) }),
    complete: (text, finishReason, usage, timings) => ({
      id, object: "chat.completion", created, model, system_fingerprint: null,
      choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: finishReason }],
      usage: usageJson(usage),
      timings: timingsJson(timings),
    }),
  };
}
