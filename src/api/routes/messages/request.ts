import type { ChatMessage, OutputConstraint, Prompt, TemplateOptions } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { checkJsonSchema } from "../chat-completions/jsonSchema.ts";
import { toolDefinitions, toolPlan, type ToolUse } from "../tools.ts";
import type { BlockInput, CountTokensRequest, MessageInput } from "./schema.ts";

/** A Messages request's prompt, and what else decides how it renders and what the reply may be. */
export interface PromptPlan {
  prompt: Extract<Prompt, { kind: "chat" }>;
  constraint?: OutputConstraint;
  template?: TemplateOptions;
  /** `thinking.display: omitted`: thinking blocks are sent without their text. */
  omitThinking: boolean;
}

/**
 * The engine's chat prompt for a Messages request (or a token count of one): messages, tools,
 * tool choice and thinking. `stop`: the request's stop_sequences field when it sets any, which a
 * forced tool call cannot have.
 */
export function toPromptPlan(body: CountTokensRequest, stop: string | null): PromptPlan {
  for (const field of ["container", "mcp_servers", "context_management"] as const) {
    if (body[field] != null) throw errors.unsupported(`'${field}' is not supported: Hearth has no code-execution containers, MCP connector nor context management.`, field);
  }
  const messages = [...(body.system !== undefined ? systemMessage(body.system) : []), ...toChatMessages(body.messages)];
  const tools = toolDefinitions((body.tools ?? []).map((t, i) => {
    if (t.type != null && t.type !== "custom") {
      throw errors.unsupported(`The tool type '${t.type}' is one of Anthropic's server tools, which Hearth does not run; declare a custom tool with 'input_schema' and run it yourself.`, `tools.[${i}].type`);
    }
    if (t.input_schema === undefined) throw errors.invalidRequest("A custom tool needs 'input_schema'.", `tools.[${i}].input_schema`);
    return { name: t.name, description: t.description, parameters: t.input_schema, path: (field) => `tools.[${i}].${field === "name" ? "name" : "input_schema"}` };
  }));
  const choice = body.tool_choice ?? { type: tools.length > 0 ? "auto" : "none" };
  if (choice.type === "tool" && choice.name === undefined) throw errors.invalidRequest("A 'tool' tool_choice needs 'name'.", "tool_choice.name");
  const use: ToolUse = choice.type === "tool" ? { name: choice.name! } : choice.type === "any" ? "required" : choice.type;
  const parallel = choice.disable_parallel_tool_use !== true;
  const plan = toolPlan(tools, use, { parallel, stop, choiceParam: "tool_choice" });
  const format = body.output_config?.format;
  const constraint = plan.constraint ?? (format != null ? { kind: "json_schema" as const, schema: checkJsonSchema(format.schema, "output_config.format.schema") } : undefined);
  const template = templateOptions(body);
  return {
    prompt: { kind: "chat", messages, ...(plan.tools ? { tools: plan.tools } : {}), ...(parallel ? {} : { parallelToolCalls: false }) },
    ...(constraint ? { constraint } : {}),
    ...(template ? { template } : {}),
    omitThinking: body.thinking?.display === "omitted",
  };
}

/**
 * Anthropic's thinking switch onto the families' controls. `enabled`/`adaptive`: the template's
 * `enable_thinking` (Qwen3's thinking block) on; `disabled`: off, and on gpt-oss (which always
 * reasons) the low effort. The effort for gpt-oss's `Reasoning:` line: `output_config.effort`
 * (xhigh and max are high), else from `budget_tokens` (under 4096 low, under 16384 medium, else
 * high). Without `thinking`, the model's own default (as its config says).
 */
function templateOptions(body: CountTokensRequest): TemplateOptions | undefined {
  const t = body.thinking;
  if (t?.type === "enabled" && t.budget_tokens === undefined) throw errors.invalidRequest("'thinking.budget_tokens' is required when thinking is enabled.", "thinking.budget_tokens");
  const asked = body.output_config?.effort;
  const effort = asked != null ? (asked === "xhigh" || asked === "max" ? "high" : asked)
    : t?.type === "enabled" ? (t.budget_tokens! < 4096 ? "low" : t.budget_tokens! < 16384 ? "medium" : "high")
    : t?.type === "disabled" ? "low" : undefined;
  if (t === undefined && effort === undefined) return undefined;
  return { ...(t ? { kwargs: { enable_thinking: t.type !== "disabled" } } : {}), ...(effort ? { reasoningEffort: effort } : {}) };
}

function systemMessage(system: string | BlockInput[]): ChatMessage[] {
  const text = typeof system === "string" ? system : textOf(system, "system");
  return text === "" ? [] : [{ role: "system", content: text }];
}

/**
 * Anthropic's turns as the engine's messages. A user turn's tool_result blocks become tool
 * messages (each answering a tool_use of an earlier assistant turn), its text blocks a user
 * message, in their order; an assistant turn's thinking is its reasoning (redacted thinking,
 * which only Anthropic can read, is dropped), its tool_use blocks its tool calls.
 */
function toChatMessages(input: readonly MessageInput[]): ChatMessage[] {
  const callIds = new Set<string>();
  const out: ChatMessage[] = [];
  input.forEach((m, i) => {
    const at = `messages.[${i}].content`;
    if (typeof m.content === "string") {
      out.push({ role: m.role, content: m.content });
      return;
    }
    if (m.role === "system") {
      out.push({ role: "system", content: textOf(m.content, at) });
      return;
    }
    if (m.role === "assistant") {
      out.push(assistantMessage(m.content, at, callIds));
      return;
    }
    let text: string[] | null = null;
    m.content.forEach((b, j) => {
      const param = `${at}.[${j}]`;
      if (b.type === "text") {
        (text ??= []).push(textField(b, param));
      } else if (b.type === "tool_result") {
        if (text) out.push({ role: "user", content: text.join("\n") });
        text = null;
        out.push(toolResult(b, param, callIds));
      } else unusable(b.type, param, "user");
    });
    if (text) out.push({ role: "user", content: (text as string[]).join("\n") });
  });
  return out;
}

function assistantMessage(blocks: readonly BlockInput[], at: string, callIds: Set<string>): ChatMessage {
  const text: string[] = [];
  let reasoning = "";
  const toolCalls: NonNullable<ChatMessage["toolCalls"]> = [];
  blocks.forEach((b, j) => {
    const param = `${at}.[${j}]`;
    if (b.type === "text") text.push(textField(b, param));
    else if (b.type === "thinking") {
      if (typeof b.thinking !== "string") throw errors.invalidRequest("A thinking block needs 'thinking'.", `${param}.thinking`);
      reasoning += b.thinking;
    } else if (b.type === "redacted_thinking") {
      // Anthropic's encrypted reasoning: nothing a local model can read.
    } else if (b.type === "tool_use") {
      if (b.id === undefined || b.name === undefined) throw errors.invalidRequest("A tool_use block needs 'id' and 'name'.", param);
      if (b.input === null || typeof b.input !== "object" || Array.isArray(b.input)) throw errors.invalidRequest("A tool_use block's 'input' must be an object.", `${param}.input`);
      toolCalls.push({ id: b.id, name: b.name, arguments: JSON.stringify(b.input) });
      callIds.add(b.id);
    } else unusable(b.type, param, "assistant");
  });
  return { role: "assistant", content: text.join("\n"), ...(reasoning ? { reasoning } : {}), ...(toolCalls.length > 0 ? { toolCalls } : {}) };
}

/** A tool's result; one marked `is_error` reaches the model as `Error: <content>` (templates have no error flag). */
function toolResult(b: BlockInput, param: string, callIds: ReadonlySet<string>): ChatMessage {
  if (b.tool_use_id === undefined) throw errors.invalidRequest("A tool_result block needs 'tool_use_id'.", `${param}.tool_use_id`);
  if (!callIds.has(b.tool_use_id)) throw errors.invalidRequest(`'tool_use_id' '${b.tool_use_id}' does not match a tool_use block of an earlier assistant message.`, `${param}.tool_use_id`);
  const content = b.content === undefined ? "" : typeof b.content === "string" ? b.content : textOf(b.content as BlockInput[], `${param}.content`);
  return { role: "tool", content: b.is_error === true ? `Error: ${content}` : content, toolCallId: b.tool_use_id };
}

/** The text of text blocks (Anthropic's system prompt, a tool result), one per line. */
function textOf(blocks: readonly BlockInput[], at: string): string {
  return blocks.map((b, j) => {
    if (b.type !== "text") unusable(b.type, `${at}.[${j}]`, null);
    return textField(b, `${at}.[${j}]`);
  }).join("\n");
}

function textField(b: BlockInput, param: string): string {
  if (typeof b.text !== "string") throw errors.invalidRequest("A text block needs 'text'.", `${param}.text`);
  return b.text;
}

/** A block Hearth cannot pass to the model: why, naming it. */
function unusable(type: string, param: string, role: "user" | "assistant" | null): never {
  if (type === "image" || type === "document") {
    throw errors.unsupported(`This model cannot read ${type === "image" ? "images" : "documents"}: only text content is supported ('${type}' block at ${param}).`, `${param}.type`);
  }
  const where = role ? ` in a ${role} message` : " here";
  throw errors.unsupported(`Content blocks of type '${type}' are not supported${where}.`, `${param}.type`);
}
