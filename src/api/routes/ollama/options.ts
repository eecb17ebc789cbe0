import type { GenerateRequest, OutputConstraint, Prompt, TemplateOptions } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { checkJsonSchema } from "../chat-completions/jsonSchema.ts";
import { toGenerateRequest } from "../common.ts";
import { defaultsFor, type RouteDeps } from "../deps.ts";
import type { OllamaChatRequest, OllamaOptions } from "./schema.ts";

type GenerationInput = Pick<OllamaChatRequest, "format" | "options" | "keep_alive" | "think">;

/**
 * An Ollama request's generation settings as an engine request for the Hearth model `model`:
 * `options` through the same mapping as OpenAI's fields (toGenerateRequest), `format` as the output
 * grammar, `think` as the template's reasoning controls.
 */
export function ollamaJob(deps: RouteDeps, model: string, body: GenerationInput, prompt: Prompt): GenerateRequest {
  const o: OllamaOptions = body.options ?? {};
  checkOptions(deps, model, o);
  const job = toGenerateRequest({
    model,
    ...(o.num_predict != null && o.num_predict > 0 ? { max_tokens: o.num_predict } : {}),
    temperature: o.temperature, top_p: o.top_p, top_k: o.top_k, min_p: o.min_p, seed: o.seed, stop: o.stop,
    presence_penalty: o.presence_penalty, frequency_penalty: o.frequency_penalty, keep_alive: body.keep_alive,
  }, prompt, defaultsFor(deps, model));
  const constraint = formatConstraint(body.format);
  if (constraint) job.constraint = constraint;
  const template = thinkTemplate(body.think);
  if (template) job.template = template;
  return job;
}

/** `num_ctx` cannot resize a loaded context: a value within the model's context is accepted (nothing changes), a larger one refused. */
function checkOptions(deps: RouteDeps, model: string, o: OllamaOptions): void {
  if (o.mirostat != null && o.mirostat !== 0) throw errors.unsupported("'options.mirostat' is not supported: Hearth samples with temperature, top_k, top_p and min_p.", "options.mirostat");
  if (o.num_ctx != null) {
    const id = deps.router.resolveId(model);
    const context = deps.router.models().find((m) => m.id === id)?.contextSize;
    if (context !== undefined && o.num_ctx > context) {
      throw errors.unsupported(`'options.num_ctx' ${o.num_ctx} is larger than this model's context of ${context} tokens, which is set when it loads (config context_length).`, "options.num_ctx");
    }
  }
}

function formatConstraint(format: GenerationInput["format"]): OutputConstraint | undefined {
  if (format == null || format === "") return undefined;
  if (format === "json") return { kind: "json" };
  return { kind: "json_schema", schema: checkJsonSchema(format, "format") };
}

/**
 * `think`: true or false set the template's `enable_thinking` (Qwen3 and the templates that read
 * it); a level is gpt-oss's reasoning effort, with thinking on. Absent: the model's own default.
 */
function thinkTemplate(think: GenerationInput["think"]): TemplateOptions | undefined {
  if (think == null) return undefined;
  if (typeof think === "boolean") return { kwargs: { enable_thinking: think } };
  return { kwargs: { enable_thinking: true }, reasoningEffort: think };
}
