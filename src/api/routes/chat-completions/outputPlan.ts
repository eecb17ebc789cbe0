import type { OutputConstraint, ToolDefinition } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { checkJsonSchema } from "./jsonSchema.ts";
import type { ChatCompletionRequest } from "./schema.ts";

/** The fields of a chat request that decide what its output may be; other protocols map theirs onto them. */
export type OutputRequest = Pick<ChatCompletionRequest, "tools" | "tool_choice" | "parallel_tool_calls" | "response_format" | "stop">;

/** What the request asks the output to be: the tools to describe, a grammar (which may force tool calls). */
export interface OutputPlan {
  tools?: ToolDefinition[];
  constraint?: OutputConstraint;
}

/** The most calls one forced `required` answer may hold (a bound, so that random weights finish). */
const MAX_PARALLEL_CALLS = 8;

export function outputPlan(body: OutputRequest): OutputPlan {
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

function toolDefinitions(body: OutputRequest): ToolDefinition[] {
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

