import type { ToolDefinition } from "../../engine/types.ts";
import { errors } from "../../errors.ts";
import { checkJsonSchema } from "./chat-completions/jsonSchema.ts";

/** A function tool as OpenAI's and Ollama's requests describe it. */
export interface FunctionToolInput {
  function: { name: string; description?: string | null; parameters?: Record<string, unknown> | null };
}

/**
 * A request's function tools for the chat template: names unique, parameters an object schema the
 * output grammar can enforce (absent: no arguments).
 */
export function toolDefinitions(tools: readonly FunctionToolInput[] | null | undefined): ToolDefinition[] {
  const seen = new Set<string>();
  return (tools ?? []).map((t, i) => {
    const { name, description, parameters } = t.function;
    if (seen.has(name)) throw errors.invalidRequest(`The function name '${name}' appears twice in 'tools'.`, `tools.[${i}].function.name`);
    seen.add(name);
    const param = `tools.[${i}].function.parameters`;
    const schema = parameters == null ? { type: "object", properties: {} } : checkJsonSchema(parameters, param);
    if ((schema as { type?: unknown }).type !== "object") throw errors.invalidRequest("A function's parameters must be a JSON schema of type 'object'.", param);
    return { name, ...(description ? { description } : {}), parameters: schema };
  });
}
