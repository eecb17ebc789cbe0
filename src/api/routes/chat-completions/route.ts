import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { ChatMessage, OutputConstraint, ToolDefinition } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { serveGeneration } from "../../generation.ts";
import type { StreamChannel } from "../../respond.ts";
import { eventStream } from "../../sse.ts";
import { ChatCompletion } from "../../../wire/chatCompletion.ts";
import { ChatCompletionChunk } from "../../../wire/chatCompletionChunk.ts";
import { fanOut, LIMITS, toGenerateRequest, withMaxN } from "../common.ts";
import { bodyModel, defaultsFor, type RouteDeps } from "../deps.ts";
import { chatFormat } from "./chatFormat.ts";
import { conversationTurn } from "./conversationTurn.ts";
import { checkJsonSchema } from "./jsonSchema.ts";
import { toolDefinitions } from "../toolDefinitions.ts";
import { ChatCompletionRequest, type ChatMessageInput } from "./schema.ts";

export function chatCompletionsRoute(app: FastifyInstance, deps: RouteDeps): void {
  const schema = withMaxN(ChatCompletionRequest, deps.defaults.maxN ?? LIMITS.defaultMaxN);
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // For the OpenAPI document only: the answer is written with JSON.stringify as before, since a
  // schema-built serializer would silently drop any field the schema does not name.
  const response = { 200: { content: { "application/json": { schema: ChatCompletion }, ...eventStream(ChatCompletionChunk) } } };
  typed.post("/v1/chat/completions", { schema: { body: schema, response }, serializerCompiler: () => JSON.stringify, config: { model: bodyModel } }, async (request, reply) => serveChat(deps, request, reply, request.body));
  // The seeds' path; the same route, left out of the OpenAPI document.
  typed.post("/chat/completions", { schema: { body: schema, hide: true }, config: { model: bodyModel } }, async (request, reply) => serveChat(deps, request, reply, request.body));
}

/**
 * One chat completion request, validated, from HTTP or a WebSocket message (`channel`: where its
 * stream goes instead of SSE). With `conversation`, the conversation's history goes before the
 * request's messages, and the turn is kept once it ends.
 */
export async function serveChat(deps: RouteDeps, request: FastifyRequest, reply: FastifyReply, input: ChatCompletionRequest, channel?: StreamChannel): Promise<void> {
  const turn = input.conversation != null ? await conversationTurn(deps, request, input) : null;
  const body = turn?.body ?? input;
  const topLogprobs = logprobsOf(body);
  const messages = [...(turn?.history ?? []), ...toChatMessages(body.messages)];
  const plan = outputPlan(body);
  const job = toGenerateRequest(body, {
    kind: "chat", messages, ...(plan.tools ? { tools: plan.tools } : {}), ...(body.parallel_tool_calls === false ? { parallelToolCalls: false } : {}),
  }, defaultsFor(deps, body.model));
  if (plan.constraint) job.constraint = plan.constraint;
  if (topLogprobs !== undefined) job.logprobs = topLogprobs;
  if (body.reasoning_effort != null || body.chat_template_kwargs != null) {
    job.template = { ...(body.chat_template_kwargs != null ? { kwargs: body.chat_template_kwargs } : {}), ...(body.reasoning_effort != null ? { reasoningEffort: body.reasoning_effort } : {}) };
  }
  const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  // The usage log's request_id is the id the client got (choices: `<id>-<i>`).
  job.id = id;
  const includeUsage = body.stream_options?.include_usage === true;
  const forced = plan.constraint?.kind === "json_schema" && plan.constraint.toolCall !== undefined;
  await serveGeneration(deps, request, reply, fanOut(job, body.n ?? 1), chatFormat(id, body.model, includeUsage, forced), {
    stream: channel !== undefined || body.stream === true,
    includeUsage,
    ...(channel ? { channel } : {}),
    ...(turn ? { beforeFinish: turn.keep } : {}),
  });
}

/** OpenAI's `logprobs: true` with `top_logprobs` (0..20, which needs `logprobs`): how many alternatives to report, or undefined. */
function logprobsOf(body: ChatCompletionRequest): number | undefined {
  if (body.top_logprobs != null && body.logprobs !== true) throw errors.invalidRequest("'top_logprobs' needs 'logprobs' set to true.", "top_logprobs");
  return body.logprobs === true ? body.top_logprobs ?? 0 : undefined;
}

/** What the request asks the output to be: the tools to describe, a grammar (which may force tool calls). */
interface OutputPlan {
  tools?: ToolDefinition[];
  constraint?: OutputConstraint;
}

/** The most calls one forced `required` answer may hold (a bound, so that random weights finish). */
const MAX_PARALLEL_CALLS = 8;

function outputPlan(body: ChatCompletionRequest): OutputPlan {
  const tools = toolDefinitions(body.tools);
  const choice = body.tool_choice ?? (tools.length > 0 ? "auto" : "none");
  if (choice !== "none" && choice !== "auto" && tools.length === 0) throw errors.invalidRequest("'tool_choice' needs 'tools'.", "tool_choice");
  let forced: ToolDefinition[] = [];
  if (typeof choice === "object") {
    const tool = tools.find((t) => t.name === choice.function.name);
    if (!tool) throw errors.invalidRequest(`'tool_choice' names the function '${choice.function.name}', which is not in 'tools'.`, "tool_choice");
    forced = [tool];
  } else if (choice === "required") {
    forced = tools;
  }
  if (forced.length > 0) {
    if (body.stop != null && (typeof body.stop === "string" || body.stop.length > 0)) {
      throw errors.unsupported("'stop' cannot be combined with a forced tool call: the arguments' grammar decides where the call ends.", "stop");
    }
    // A named function: its arguments. `required`: one call of any tool, or (parallel calls allowed,
    // OpenAI's default) 1 to MAX_PARALLEL_CALLS of them, as vLLM does.
    if (choice !== "required") return { tools, constraint: { kind: "json_schema", schema: forced[0]!.parameters!, toolCall: { kind: "arguments", name: forced[0]!.name } } };
    const call = { oneOf: forced.map((t) => ({ type: "object", properties: { name: { const: t.name }, arguments: t.parameters } })) };
    const parallel = body.parallel_tool_calls !== false;
    const schema = parallel ? { type: "array", items: call, minItems: 1, maxItems: MAX_PARALLEL_CALLS } : call;
    return { tools, constraint: { kind: "json_schema", schema, toolCall: parallel ? { kind: "array" } : { kind: "wrapped" } } };
  }
  const rf = body.response_format;
  const constraint: OutputConstraint | undefined = rf?.type === "json_object" ? { kind: "json" }
    : rf?.type === "json_schema"
      ? rf.json_schema.schema == null ? { kind: "json" } : { kind: "json_schema", schema: checkJsonSchema(rf.json_schema.schema, "response_format.json_schema.schema") }
      : undefined;
  // tool_choice none: the tools are left out of the prompt, so the model is not invited to call one.
  return { ...(choice === "auto" ? { tools } : {}), ...(constraint ? { constraint } : {}) };
}

function toChatMessages(input: readonly ChatMessageInput[]): ChatMessage[] {
  const callIds = new Set<string>();
  return input.map((m, i) => {
    const message = toChatMessage(m, i);
    if (m.role === "assistant" && m.reasoning_content) message.reasoning = m.reasoning_content;
    if (m.role === "assistant" && m.tool_calls && m.tool_calls.length > 0) {
      message.toolCalls = m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
      for (const c of m.tool_calls) callIds.add(c.id);
    }
    if (m.role === "tool") {
      if (m.tool_call_id == null) throw errors.invalidRequest("A 'tool' message needs 'tool_call_id'.", `messages.[${i}].tool_call_id`);
      if (!callIds.has(m.tool_call_id)) throw errors.invalidRequest(`'tool_call_id' '${m.tool_call_id}' does not match a tool call of an earlier assistant message.`, `messages.[${i}].tool_call_id`);
      message.toolCallId = m.tool_call_id;
    }
    return message;
  });
}

function toChatMessage(m: ChatMessageInput, i: number): ChatMessage {
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
