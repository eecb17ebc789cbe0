import type { ChatMessage, OutputConstraint, TemplateOptions } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { checkJsonSchema } from "../chat-completions/jsonSchema.ts";
import { toolDefinitions, toolPlan, type OutputPlan, type ToolUse } from "../tools.ts";
import type { CreateResponseRequest, InputItem, InputTokensRequest } from "./schema.ts";

/**
 * A Responses request's conversation as the engine's chat messages: the continued response's
 * conversation (`history`, without its instructions), the request's `instructions` as the system
 * message first, then its input items.
 */
export function conversationOf(body: Pick<CreateResponseRequest, "instructions"> & { input?: CreateResponseRequest["input"] | null }, history: readonly ChatMessage[]): { messages: ChatMessage[]; input: ChatMessage[] } {
  const input = inputMessages(body.input ?? [], history);
  const system: ChatMessage[] = body.instructions != null && body.instructions !== "" ? [{ role: "system", content: body.instructions }] : [];
  return { messages: [...system, ...history, ...input], input };
}

/**
 * The input items as chat messages. Function calls join the assistant message before them (or
 * make one); a reasoning item goes with the assistant message after it (last, it is the start of
 * the answer's reasoning, which the model continues); a function call's output
 * must answer a call made earlier (in this input or the continued conversation).
 */
function inputMessages(input: string | InputItem[], history: readonly ChatMessage[]): ChatMessage[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  const callIds = new Set(history.flatMap((m) => (m.toolCalls ?? []).map((c) => c.id)));
  const out: ChatMessage[] = [];
  let reasoning: string | undefined;
  const assistant = (): ChatMessage => {
    const last = out.at(-1);
    if (last?.role === "assistant") return last;
    const made: ChatMessage = { role: "assistant", content: "" };
    out.push(made);
    return made;
  };
  input.forEach((item, i) => {
    const at = `input.[${i}]`;
    const type = item.type ?? (item.role !== undefined ? "message" : undefined);
    if (type === "message") {
      if (item.role === undefined) throw errors.invalidRequest("A message item needs 'role'.", `${at}.role`);
      if (item.content === undefined) throw errors.invalidRequest("A message item needs 'content'.", `${at}.content`);
      const message: ChatMessage = { role: item.role, content: textOf(item.content, `${at}.content`, item.role === "assistant" ? ASSISTANT_PARTS : USER_PARTS) };
      if (item.role === "assistant" && reasoning !== undefined) {
        message.reasoning = reasoning;
        reasoning = undefined;
      }
      out.push(message);
    } else if (type === "function_call") {
      if (item.call_id === undefined || item.name === undefined || item.arguments === undefined) {
        throw errors.invalidRequest("A function_call item needs 'call_id', 'name' and 'arguments'.", at);
      }
      const message = assistant();
      if (reasoning !== undefined) {
        message.reasoning = reasoning;
        reasoning = undefined;
      }
      (message.toolCalls ??= []).push({ id: item.call_id, name: item.name, arguments: item.arguments });
      callIds.add(item.call_id);
    } else if (type === "function_call_output") {
      if (item.call_id === undefined || item.output === undefined) throw errors.invalidRequest("A function_call_output item needs 'call_id' and 'output'.", at);
      if (!callIds.has(item.call_id)) throw errors.invalidRequest(`'call_id' '${item.call_id}' does not match a function_call before it.`, `${at}.call_id`);
      out.push({ role: "tool", content: textOf(item.output, `${at}.output`, USER_PARTS), toolCallId: item.call_id });
    } else if (type === "reasoning") {
      const parts = Array.isArray(item.content) && item.content.length > 0 ? item.content : item.summary ?? [];
      reasoning = parts.map((p) => p.text ?? "").join("\n");
    } else {
      throw errors.unsupported(`Input items of type '${type ?? "(none)"}' are not supported; Hearth reads message, function_call, function_call_output and reasoning items.`, `${at}.type`);
    }
  });
  // Reasoning last: the answer starts inside the thinking block, continuing it (as chat's prefill).
  if (reasoning !== undefined) out.push({ role: "assistant", content: "", reasoning });
  return out;
}

/** Text parts a message may carry; anything else (images, files, audio) is refused by name. */
const USER_PARTS = new Set(["input_text", "text"]);
const ASSISTANT_PARTS = new Set(["output_text", "refusal", "input_text", "text"]);

function textOf(content: string | { type: string; text?: string | undefined }[], at: string, allowed: ReadonlySet<string>): string {
  if (typeof content === "string") return content;
  return content.map((part, j) => {
    if (!allowed.has(part.type)) throw errors.unsupported(`Content of type '${part.type}' is not supported by this model; only text is.`, `${at}.[${j}].type`);
    if (typeof part.text !== "string") throw errors.invalidRequest("A text part needs 'text'.", `${at}.[${j}].text`);
    return part.text;
  }).join("\n");
}

/** What the request's tools, tool_choice and text format ask of the output, checked as every protocol's are. */
export function outputPlanOf(body: Pick<InputTokensRequest, "tools" | "tool_choice" | "parallel_tool_calls" | "text">): OutputPlan {
  const tools = toolDefinitions((body.tools ?? []).map((t, i) => {
    if (t.type !== "function") throw errors.unsupported(`Tools of type '${t.type}' are not supported; Hearth runs function tools, which the client executes.`, `tools.[${i}].type`);
    if (t.name === undefined) throw errors.invalidRequest("A function tool needs 'name'.", `tools.[${i}].name`);
    return { name: t.name, description: t.description, parameters: t.parameters, path: (field: string) => `tools.[${i}].${field}` };
  }));
  const choice = body.tool_choice;
  if (choice != null && typeof choice === "object" && (choice.type !== "function" || choice.name === undefined)) {
    throw errors.unsupported(`'tool_choice' of type '${choice.type}' is not supported; use none, auto, required or a function.`, "tool_choice");
  }
  const use: ToolUse = choice == null ? (tools.length > 0 ? "auto" : "none") : typeof choice === "string" ? choice : { name: choice.name! };
  const plan = toolPlan(tools, use, { parallel: body.parallel_tool_calls !== false, stop: null, choiceParam: "tool_choice" });
  if (plan.constraint) return plan;
  const format = body.text?.format;
  const constraint: OutputConstraint | undefined = format?.type === "json_object" ? { kind: "json" }
    : format?.type === "json_schema" ? { kind: "json_schema", schema: checkJsonSchema(format.schema, "text.format.schema") }
    : undefined;
  return { ...plan, ...(constraint ? { constraint } : {}) };
}

/** `reasoning.effort` and template variables as the engine's template options. */
export function templateOf(body: Pick<CreateResponseRequest, "reasoning" | "chat_template_kwargs">): TemplateOptions | undefined {
  const effort = body.reasoning?.effort;
  if (effort == null && body.chat_template_kwargs == null) return undefined;
  return {
    ...(body.chat_template_kwargs != null ? { kwargs: body.chat_template_kwargs } : {}),
    // `none` asks for no reasoning: Qwen3's switch; others get the lowest effort their templates know.
    ...(effort === "none" ? { kwargs: { enable_thinking: false, ...body.chat_template_kwargs } } : effort != null ? { reasoningEffort: effort === "xhigh" ? "high" : effort } : {}),
  };
}
