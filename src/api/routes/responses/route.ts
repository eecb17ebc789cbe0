import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { ChatMessage, Prompt } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import type { ResponseStore } from "../../../store/ResponseStore.ts";
import { DeletedResponse, InputTokens, ResponseObject, ResponseStreamEvent } from "../../../wire/response.ts";
import { serveGeneration } from "../../generation.ts";
import { isCompleted, type Outcome } from "../../respond.ts";
import { eventStream } from "../../sse.ts";
import { toGenerateRequest } from "../common.ts";
import { viewerOf } from "../conversations.ts";
import { bodyModel, defaultsFor, type RouteDeps } from "../deps.ts";
import { responsesFormat, type ResponseSettings } from "./format.ts";
import { conversationOf, outputPlanOf, templateOf } from "./input.ts";
import { CreateResponseRequest, InputTokensRequest } from "./schema.ts";

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/**
 * OpenAI's Responses API: POST /v1/responses over the same generation path as chat completions,
 * the responses kept with `store` (GET, DELETE), continued with `previous_response_id`, and
 * POST /v1/responses/input_tokens: the prompt tokens a request would evaluate.
 */
export function responsesRoutes(app: FastifyInstance, deps: RouteDeps, store: ResponseStore): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const response = { 200: { content: { "application/json": { schema: ResponseObject }, ...eventStream(ResponseStreamEvent) } } };
  typed.post("/v1/responses", { schema: { body: CreateResponseRequest, response }, serializerCompiler: () => JSON.stringify, config: { model: bodyModel } },
    async (request, reply) => serveResponse(deps, store, request, reply, request.body));
  typed.get("/v1/responses/:id", { schema: { params: IdParams, response: { 200: ResponseObject } }, serializerCompiler: () => JSON.stringify },
    async (request) => (await store.get(viewerOf(request.caller), request.params.id, "id")).body);
  typed.post("/v1/responses/input_tokens", { schema: { body: InputTokensRequest, response: { 200: InputTokens } }, config: { model: bodyModel } }, async (request) => {
    const body = request.body;
    const history = body.previous_response_id != null ? (await store.get(viewerOf(request.caller), body.previous_response_id, "previous_response_id")).conversation : [];
    const { prompt, plan, template } = promptOf(body, history);
    const options = { ...(template ? { template } : {}), ...(plan.constraint ? { constraint: plan.constraint } : {}) };
    return { object: "response.input_tokens" as const, input_tokens: await deps.router.countTokens(body.model, prompt, options) };
  });
  typed.delete("/v1/responses/:id", { schema: { params: IdParams, response: { 200: DeletedResponse } } }, async (request) => {
    await store.delete(viewerOf(request.caller), request.params.id);
    return { id: request.params.id, object: "response" as const, deleted: true as const };
  });
}

async function serveResponse(deps: RouteDeps, store: ResponseStore, request: FastifyRequest, reply: FastifyReply, body: CreateResponseRequest): Promise<void> {
  refuseUnsupported(body);
  const viewer = viewerOf(request.caller);
  const previous = body.previous_response_id != null ? await store.get(viewer, body.previous_response_id, "previous_response_id") : null;
  const history = previous?.conversation ?? [];
  const { prompt, input, plan, template } = promptOf(body, history);
  const job = toGenerateRequest({ ...body, max_tokens: body.max_output_tokens, stop: null }, prompt, defaultsFor(deps, body.model));
  if (plan.constraint) job.constraint = plan.constraint;
  if (template) job.template = template;
  const id = `resp_${randomUUID().replaceAll("-", "")}`;
  // The usage log's request_id is the response's id.
  job.id = id;
  const format = responsesFormat(id, settingsOf(body, job.sampling.temperature, job.sampling.topP ?? null));
  const keep = body.store !== false;
  await serveGeneration(deps, request, reply, [job], format, {
    stream: body.stream === true,
    includeUsage: false,
    ...(keep ? {
      beforeFinish: async (o: Outcome) => {
        if (!o.final || !isCompleted(o.final.reason)) return;
        const answer = { text: o.text, reasoning: o.reasoning, toolCalls: o.toolCalls, finishReason: o.final.reason, usage: o.final.usage };
        await store.save({
          id, owner: request.caller.key?.name ?? null, model: body.model, previousResponseId: body.previous_response_id ?? null,
          body: format.result(answer), conversation: [...history, ...input, replyMessage(o)],
        });
      },
    } : {}),
  });
}

/** The prompt a request (or a count of its tokens) gives the model, and what shapes its output. */
function promptOf(body: InputTokensRequest, history: readonly ChatMessage[]) {
  const { messages, input } = conversationOf(body, history);
  const plan = outputPlanOf(body);
  const prompt: Prompt = { kind: "chat", messages, ...(plan.tools ? { tools: plan.tools } : {}), ...(body.parallel_tool_calls === false ? { parallelToolCalls: false } : {}) };
  return { prompt, input, plan, template: templateOf(body) };
}

/** Fields a client relies on that Hearth cannot honour: refused by name rather than ignored. */
function refuseUnsupported(body: CreateResponseRequest): void {
  if (body.background === true) throw errors.unsupported("'background' responses are not supported: stream, or wait for the answer.", "background");
  if (body.conversation != null) throw errors.unsupported("'conversation' objects are not supported; continue a response with 'previous_response_id'.", "conversation");
  if (body.prompt != null) throw errors.unsupported("Stored prompt templates ('prompt') are not supported.", "prompt");
  if (body.truncation === "auto") throw errors.unsupported("truncation 'auto' is not supported: the input must fit the model's context.", "truncation");
  if ((body.top_logprobs ?? 0) > 0 || body.include?.includes("message.output_text.logprobs")) {
    throw errors.unsupported("Log probabilities are not supported on /v1/responses; use /v1/chat/completions with 'logprobs'.", "top_logprobs");
  }
}

/** The answer as the assistant message a continuation sends back to the model. */
function replyMessage(o: Outcome): ChatMessage {
  return { role: "assistant", content: o.text, ...(o.reasoning ? { reasoning: o.reasoning } : {}), ...(o.toolCalls.length > 0 ? { toolCalls: o.toolCalls } : {}) };
}

function settingsOf(body: CreateResponseRequest, temperature: number, topP: number | null): ResponseSettings {
  const choice = body.tool_choice;
  return {
    model: body.model,
    instructions: body.instructions ?? null,
    tools: (body.tools ?? []).map((t) => ({ type: "function" as const, name: t.name ?? "", description: t.description ?? null, parameters: t.parameters ?? null, strict: t.strict ?? true })),
    tool_choice: choice == null ? "auto" : typeof choice === "string" ? choice : { type: "function", name: choice.name ?? "" },
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    temperature,
    top_p: topP,
    max_output_tokens: body.max_output_tokens ?? null,
    previous_response_id: body.previous_response_id ?? null,
    store: body.store !== false,
    metadata: body.metadata ?? {},
    text: { format: body.text?.format ?? { type: "text" } },
    reasoning: { effort: body.reasoning?.effort ?? null, summary: null },
    truncation: "disabled",
    ...(body.user != null ? { user: body.user } : {}),
  };
}
