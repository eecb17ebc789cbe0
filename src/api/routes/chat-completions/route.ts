import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { ChatMessage, GeneratedTokenLogprob, OutputConstraint, ToolDefinition, Usage } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { serveGeneration } from "../../generation.ts";
import { eventStream } from "../../sse.ts";
import type { ResponseFormat, StreamChannel } from "../../respond.ts";
import { fanOut, LIMITS, timingsJson, toGenerateRequest, unixNow, usageJson, withMaxN } from "../common.ts";
import { defaultsFor, type RouteDeps } from "../deps.ts";
import { conversationTurn } from "./conversationTurn.ts";
import { checkJsonSchema } from "./jsonSchema.ts";
import { ChatCompletionRequest, type ChatMessageInput } from "./schema.ts";
import { newToolCallId, ToolCallReader, type ToolCallShape } from "./toolCalls.ts";
import { ChatCompletion, type ChatLogprobs, type OpenAIFinishReason, type ToolCall } from "../../../wire/chatCompletion.ts";
import { ChatCompletionChunk, type ChatDelta } from "../../../wire/chatCompletionChunk.ts";

export function chatCompletionsRoute(app: FastifyInstance, deps: RouteDeps): void {
  const schema = withMaxN(ChatCompletionRequest, deps.defaults.maxN ?? LIMITS.defaultMaxN);
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // For the OpenAPI document only: the answer is written with JSON.stringify as before, since a
  // schema-built serializer would silently drop any field the schema does not name.
  const response = { 200: { content: { "application/json": { schema: ChatCompletion }, ...eventStream(ChatCompletionChunk) } } };
  typed.post("/v1/chat/completions", { schema: { body: schema, response }, serializerCompiler: () => JSON.stringify }, async (request, reply) => serveChat(deps, request, reply, request.body));
  // The seeds' path; the same route, left out of the OpenAPI document.
  typed.post("/chat/completions", { schema: { body: schema, hide: true } }, async (request, reply) => serveChat(deps, request, reply, request.body));
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
  const job = toGenerateRequest(body, { kind: "chat", messages, ...(plan.tools ? { tools: plan.tools } : {}) }, defaultsFor(deps, body.model), body.max_completion_tokens ?? body.max_tokens);
  if (plan.constraint) job.constraint = plan.constraint;
  if (topLogprobs !== undefined) job.logprobs = topLogprobs;
  const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  // The usage log's request_id is the id the client got (choices: `<id>-<i>`).
  job.id = id;
  const includeUsage = body.stream_options?.include_usage === true;
  const format = plan.toolCall ? toolCallFormat(id, body.model, includeUsage, plan.toolCall) : chatFormat(id, body.model, includeUsage);
  await serveGeneration(deps, request, reply, fanOut(job, body.n ?? 1), format, {
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

/** OpenAI's chat `logprobs` object for some tokens. */
function chatLogprobs(tokens: readonly GeneratedTokenLogprob[]): ChatLogprobs {
  return {
    content: tokens.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes, top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes })) })),
    refusal: null,
  };
}

/** What the request asks the output to be: the tools to describe, a grammar, a forced tool call. */
interface OutputPlan {
  tools?: ToolDefinition[];
  constraint?: OutputConstraint;
  /** A forced call, and how its output is shaped. */
  toolCall?: ToolCallShape;
}

/** The most calls one forced `required` answer may hold (a bound, so that random weights finish). */
const MAX_PARALLEL_CALLS = 8;

function outputPlan(body: ChatCompletionRequest): OutputPlan {
  const tools = toolDefinitions(body);
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
    if (choice !== "required") return { tools, constraint: { kind: "json_schema", schema: forced[0]!.parameters!, toolCall: true }, toolCall: { kind: "arguments", name: forced[0]!.name } };
    const call = { oneOf: forced.map((t) => ({ type: "object", properties: { name: { const: t.name }, arguments: t.parameters } })) };
    const parallel = body.parallel_tool_calls !== false;
    const schema = parallel ? { type: "array", items: call, minItems: 1, maxItems: MAX_PARALLEL_CALLS } : call;
    return { tools, constraint: { kind: "json_schema", schema, toolCall: true }, toolCall: parallel ? { kind: "array" } : { kind: "wrapped" } };
  }
  const rf = body.response_format;
  const constraint: OutputConstraint | undefined = rf?.type === "json_object" ? { kind: "json" }
    : rf?.type === "json_schema"
      ? rf.json_schema.schema == null ? { kind: "json" } : { kind: "json_schema", schema: checkJsonSchema(rf.json_schema.schema, "response_format.json_schema.schema") }
      : undefined;
  // tool_choice none: the tools are left out of the prompt, so the model is not invited to call one.
  return { ...(choice === "auto" ? { tools } : {}), ...(constraint ? { constraint } : {}) };
}

function toolDefinitions(body: ChatCompletionRequest): ToolDefinition[] {
  const seen = new Set<string>();
  return (body.tools ?? []).map((t, i) => {
    const { name, description, parameters } = t.function;
    if (seen.has(name)) throw errors.invalidRequest(`The function name '${name}' appears twice in 'tools'.`, `tools.[${i}].function.name`);
    seen.add(name);
    const param = `tools.[${i}].function.parameters`;
    const schema = parameters == null ? { type: "object", properties: {} } : checkJsonSchema(parameters, param);
    if ((schema as { type?: unknown }).type !== "object") throw errors.invalidRequest("A function's parameters must be a JSON schema of type 'object'.", param);
    return { name, ...(description ? { description } : {}), parameters: schema };
  });
}

function toChatMessages(input: readonly ChatMessageInput[]): ChatMessage[] {
  const callIds = new Set<string>();
  return input.map((m, i) => {
    const message = toChatMessage(m, i);
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

/**
 * What both chat formats build from: the response's creation time, one id per tool call (per
 * choice and position, the same in every chunk and in the whole message), and the chunk objects.
 */
function chatPieces(id: string, model: string, includeUsage: boolean) {
  const created = unixNow();
  const callIds: string[][] = [];
  return {
    created,
    callId: (index: number, position: number) => ((callIds[index] ??= [])[position] ??= newToolCallId()),
    chunk: (index: number, delta: ChatDelta, finishReason: OpenAIFinishReason | null, logprobs?: GeneratedTokenLogprob[]): ChatCompletionChunk => ({
      id, object: "chat.completion.chunk", created, model, system_fingerprint: null,
      choices: [{ index, delta, logprobs: logprobs ? chatLogprobs(logprobs) : null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    }),
    usageChunk: (usage: Usage): ChatCompletionChunk => ({ id, object: "chat.completion.chunk", created, model, system_fingerprint: null, choices: [], usage: usageJson(usage) }),
  };
}

/**
 * OpenAI's chat.completion objects for forced tool calls: content null, the calls read from the
 * grammar-constrained output. Streamed: for each call a first tool_calls delta with its index, id,
 * type, name and empty arguments, then its arguments as they come.
 */
function toolCallFormat(id: string, model: string, includeUsage: boolean, shape: ToolCallShape): ResponseFormat {
  const { created, callId, chunk, usageChunk } = chatPieces(id, model, includeUsage);
  const readers: ToolCallReader[] = [];
  /** Logprobs of tokens whose text the reader still holds: sent with the next chunk of that choice. */
  const held: GeneratedTokenLogprob[][] = [];
  const takeHeld = (index: number) => {
    const lp = held[index];
    held[index] = [];
    return lp && lp.length > 0 ? lp : undefined;
  };
  return {
    opening: (index) => chunk(index, { role: "assistant", content: null, refusal: null }, null),
    chunk: (index, text, logprobs) => {
      if (logprobs) (held[index] ??= []).push(...logprobs);
      return (readers[index] ??= new ToolCallReader(shape)).push(text).map((piece) => chunk(index, {
        tool_calls: [piece.kind === "start"
          ? { index: piece.position, id: callId(index, piece.position), type: "function", function: { name: piece.name, arguments: "" } }
          : { index: piece.position, function: { arguments: piece.text } }],
      }, null, takeHeld(index)));
    },
    closing: (index, finishReason, timings) => ({ ...chunk(index, {}, finishReason, takeHeld(index)), timings: timingsJson(timings) }),
    usageChunk,
    complete: (choices, usage, timings): ChatCompletion => ({
      id, object: "chat.completion", created, model, system_fingerprint: null,
      choices: choices.map((c, index) => {
        const whole = new ToolCallReader(shape);
        whole.push(c.text);
        const calls = whole.calls.map((call, position): ToolCall => ({ id: callId(index, position), type: "function", function: call }));
        return {
          index,
          message: { role: "assistant", content: null, refusal: null, ...(calls.length > 0 ? { tool_calls: calls } : {}) },
          logprobs: c.logprobs ? chatLogprobs(c.logprobs) : null,
          finish_reason: c.finishReason,
        };
      }),
      usage: usageJson(usage),
      timings: timingsJson(timings),
    }),
  };
}

/**
 * OpenAI's chat.completion and chat.completion.chunk objects. A tool call the model wrote
 * (tool_choice auto) comes after the content: streamed as one tool_calls delta (id, name and the
 * whole arguments), in the message as `tool_calls` (content null when there was no text).
 */
function chatFormat(id: string, model: string, includeUsage: boolean): ResponseFormat {
  const { created, callId, chunk, usageChunk } = chatPieces(id, model, includeUsage);
  return {
    opening: (index) => chunk(index, { role: "assistant", content: "", refusal: null }, null),
    chunk: (index, text, logprobs) => chunk(index, { content: text }, null, logprobs),
    toolCall: (index, call, position) => chunk(index, {
      tool_calls: [{ index: position, id: callId(index, position), type: "function", function: { name: call.name, arguments: call.arguments } }],
    }, null),
    closing: (index, finishReason, timings) => ({ ...chunk(index, {}, finishReason), timings: timingsJson(timings) }),
    usageChunk,
    complete: (choices, usage, timings): ChatCompletion => ({
      id, object: "chat.completion", created, model, system_fingerprint: null,
      choices: choices.map((c, index) => ({
        index,
        message: c.toolCalls && c.toolCalls.length > 0
          ? {
            role: "assistant", content: c.text === "" ? null : c.text, refusal: null,
            tool_calls: c.toolCalls.map((call, position) => ({ id: callId(index, position), type: "function", function: { name: call.name, arguments: call.arguments } })),
          }
          : { role: "assistant", content: c.text, refusal: null },
        logprobs: c.logprobs ? chatLogprobs(c.logprobs) : null,
        finish_reason: c.finishReason,
      })),
      usage: usageJson(usage),
      timings: timingsJson(timings),
    }),
  };
}
