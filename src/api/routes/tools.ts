import type { OutputConstraint, ToolDefinition } from "../../engine/types.ts";
import { errors } from "../../errors.ts";
import { checkJsonSchema } from "./chat-completions/jsonSchema.ts";

/**
 * Tools as every protocol declares them (OpenAI's functions, Anthropic's tools), and what a request
 * asks of them: shared, so that each protocol checks the same things and constrains the same way.
 */

/** One declared tool as its protocol names its fields; `path(field)` is the field's error param. */
export interface ToolInput {
  name: string;
  description?: string | null | undefined;
  /** The arguments' JSON schema; absent: no arguments. */
  parameters?: Record<string, unknown> | null | undefined;
  path: (field: "name" | "parameters") => string;
}

/** `none`: no call (the tools are left out of the prompt); `auto`: the model may call; `required`: at least one call of any; a name: one call of it. */
export type ToolUse = "none" | "auto" | "required" | { name: string };

/** What the request asks the output to be: the tools to describe, a grammar (which may force tool calls). */
export interface OutputPlan {
  tools?: ToolDefinition[];
  constraint?: OutputConstraint;
}

/** The most calls one forced `required` answer may hold (a bound, so that random weights finish). */
const MAX_PARALLEL_CALLS = 8;

/** The tools, checked: names unique, parameters an object schema the grammar can enforce. */
export function toolDefinitions(tools: readonly ToolInput[]): ToolDefinition[] {
  const seen = new Set<string>();
  return tools.map((t) => {
    if (seen.has(t.name)) throw errors.invalidRequest(`The tool name '${t.name}' appears twice in 'tools'.`, t.path("name"));
    seen.add(t.name);
    const param = t.path("parameters");
    const schema = t.parameters == null ? { type: "object", properties: {} } : checkJsonSchema(t.parameters, param);
    if ((schema as { type?: unknown }).type !== "object") throw errors.invalidRequest("A tool's parameters must be a JSON schema of type 'object'.", param);
    return { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: schema };
  });
}

/**
 * How the tools shape the output. A forced use (`required`, a name) is a grammar: a named tool's
 * arguments; `required`: one call of any tool, or (`parallel`) 1 to MAX_PARALLEL_CALLS of them, as
 * vLLM does. A forced call cannot have stop strings (`stop`: the param that sets them, if any
 * does): the grammar decides where the call ends. `choiceParam` names the protocol's field.
 */
export function toolPlan(tools: ToolDefinition[], use: ToolUse, opts: { parallel: boolean; stop: string | null; choiceParam: string }): OutputPlan {
  if (use !== "none" && use !== "auto" && tools.length === 0) throw errors.invalidRequest(`'${opts.choiceParam}' needs 'tools'.`, opts.choiceParam);
  if (use === "none") return {};
  if (use === "auto") return { tools };
  if (opts.stop !== null) throw errors.unsupported(`'${opts.stop}' cannot be combined with a forced tool call: the arguments' grammar decides where the call ends.`, opts.stop);
  if (use !== "required") {
    const tool = tools.find((t) => t.name === use.name);
    if (!tool) throw errors.invalidRequest(`'${opts.choiceParam}' names the tool '${use.name}', which is not in 'tools'.`, opts.choiceParam);
    return { tools, constraint: { kind: "json_schema", schema: tool.parameters!, toolCall: { kind: "arguments", name: tool.name } } };
  }
  const call = { oneOf: tools.map((t) => ({ type: "object", properties: { name: { const: t.name }, arguments: t.parameters } })) };
  const schema = opts.parallel ? { type: "array", items: call, minItems: 1, maxItems: MAX_PARALLEL_CALLS } : call;
  return { tools, constraint: { kind: "json_schema", schema, toolCall: opts.parallel ? { kind: "array" } : { kind: "wrapped" } } };
}
