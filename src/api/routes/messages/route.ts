import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { ErrorShape } from "../../errorHandler.ts";
import { serveGeneration } from "../../generation.ts";
import { eventStream } from "../../sse.ts";
import { AnthropicError, AnthropicMessage, AnthropicStreamEvent, MessageTokensCount } from "../../../wire/anthropic.ts";
import { toGenerateRequest } from "../common.ts";
import { bodyModel, defaultsFor, type RouteDeps } from "../deps.ts";
import { anthropicError } from "./errors.ts";
import { messagesFormat } from "./format.ts";
import { toPromptPlan } from "./request.ts";
import { CountTokensRequest, MessagesRequest } from "./schema.ts";

const errorShape: ErrorShape = (err, request) => anthropicError(err, request.id);

/** Every error of these routes, validation, auth and limits included, in Anthropic's shape. */
const errorResponses = Object.fromEntries([400, 401, 403, 404, 413, 429, 500, 503].map((status) => [status, AnthropicError]));

/**
 * Anthropic's Messages API over Hearth's generation path: POST /v1/messages (a Message, or its
 * stream of events) and POST /v1/messages/count_tokens. Errors in Anthropic's shape, with the
 * request's id in the body's `request_id` and the `request-id` header, as Anthropic sends them.
 */
export function messagesRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const config = { model: bodyModel, errorShape };
  const onSend = async (request: FastifyRequest, reply: FastifyReply) => { void reply.header("request-id", request.id); };
  // For the OpenAPI document only, as for chat completions: the answer is written with JSON.stringify.
  const response = { 200: { content: { "application/json": { schema: AnthropicMessage }, ...eventStream(AnthropicStreamEvent) } }, ...errorResponses };
  typed.post("/v1/messages", { schema: { body: MessagesRequest, response }, serializerCompiler: () => JSON.stringify, config, onSend }, async (request, reply) => {
    void reply.header("request-id", request.id); // a stream's headers are written before onSend could run
    await serveMessages(deps, request, reply, request.body);
  });
  typed.post("/v1/messages/count_tokens", { schema: { body: CountTokensRequest, response: { 200: MessageTokensCount, ...errorResponses } }, serializerCompiler: () => JSON.stringify, config, onSend }, async (request) => {
    const plan = toPromptPlan(request.body, null);
    const options = { ...(plan.template ? { template: plan.template } : {}), ...(plan.constraint ? { constraint: plan.constraint } : {}) };
    return { input_tokens: await deps.router.countTokens(request.body.model, plan.prompt, options) };
  });
}

async function serveMessages(deps: RouteDeps, request: FastifyRequest, reply: FastifyReply, body: MessagesRequest): Promise<void> {
  const stop = body.stop_sequences ?? [];
  const plan = toPromptPlan(body, stop.length > 0 ? "stop_sequences" : null);
  const job = toGenerateRequest({
    model: body.model, max_tokens: body.max_tokens, stop,
    ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
    ...(body.top_p !== undefined ? { top_p: body.top_p } : {}),
    ...(body.top_k !== undefined ? { top_k: body.top_k } : {}),
    ...(body.seed != null ? { seed: body.seed } : {}),
    ...(body.logit_bias != null ? { logit_bias: body.logit_bias } : {}),
    ...(body.metadata?.user_id != null ? { user: body.metadata.user_id } : {}),
  }, plan.prompt, defaultsFor(deps, body.model));
  if (plan.constraint) job.constraint = plan.constraint;
  if (plan.template) job.template = plan.template;
  // The usage log's request_id is the message's id, as the client got it.
  job.id = `msg_${randomUUID().replaceAll("-", "")}`;
  await serveGeneration(deps, request, reply, [job], messagesFormat(job.id, body.model, request.id, plan.omitThinking), { stream: body.stream === true, includeUsage: false });
}
