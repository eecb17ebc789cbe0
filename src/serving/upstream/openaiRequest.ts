import type { ChatMessage, GeneratedTokenLogprob, GenerateRequest } from "../../engine/types.ts";

/**
 * A Hearth generation request as the body an OpenAI-compatible server takes (streamed, with usage):
 * the upstream applies the sampling, the stop strings and the output constraint itself. `top_k` and
 * `min_p` are sent as vLLM, llama-server and Hearth take them.
 */
export function openaiRequest(req: GenerateRequest, model: string): { path: string; body: Record<string, unknown> } {
  const s = req.sampling;
  const common: Record<string, unknown> = {
    model,
    stream: true,
    stream_options: { include_usage: true },
    temperature: s.temperature,
    ...(s.topP !== undefined ? { top_p: s.topP } : {}),
    ...(s.topK !== undefined && s.topK > 0 ? { top_k: s.topK } : {}),
    ...(s.minP !== undefined && s.minP > 0 ? { min_p: s.minP } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    ...(s.presencePenalty !== undefined ? { presence_penalty: s.presencePenalty } : {}),
    ...(s.frequencyPenalty !== undefined ? { frequency_penalty: s.frequencyPenalty } : {}),
    ...(s.logitBias !== undefined ? { logit_bias: s.logitBias } : {}),
    ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
    ...(req.stop.length > 0 ? { stop: req.stop } : {}),
    ...(req.user !== undefined ? { user: req.user } : {}),
  };
  const c = req.constraint;
  const responseFormat = c?.kind === "json" ? { type: "json_object" }
    : c?.kind === "json_schema" ? { type: "json_schema", json_schema: { name: "output", schema: c.schema, strict: true } } : undefined;
  if (req.prompt.kind !== "chat") {
    return {
      path: "/completions",
      body: { ...common, prompt: req.prompt.kind === "text" ? req.prompt.text : req.prompt.tokens, ...(req.logprobs !== undefined ? { logprobs: req.logprobs } : {}), ...(responseFormat ? { response_format: responseFormat } : {}) },
    };
  }
  const tools = req.prompt.tools ?? [];
  return {
    path: "/chat/completions",
    body: {
      ...common,
      messages: req.prompt.messages.map(openaiMessage),
      ...(req.logprobs !== undefined ? { logprobs: true, top_logprobs: req.logprobs } : {}),
      ...(req.template?.reasoningEffort !== undefined ? { reasoning_effort: req.template.reasoningEffort } : {}),
      ...(req.template?.kwargs !== undefined ? { chat_template_kwargs: req.template.kwargs } : {}),
      ...(responseFormat ? { response_format: responseFormat } : {}),
      // A forced call is already the constraint (its JSON comes back as content); otherwise the model decides.
      ...(tools.length > 0 && !c ? {
        tools: tools.map((t) => ({ type: "function", function: { name: t.name, ...(t.description ? { description: t.description } : {}), ...(t.parameters ? { parameters: t.parameters } : {}) } })),
        tool_choice: "auto",
      } : {}),
    },
  };
}

function openaiMessage(m: ChatMessage): Record<string, unknown> {
  if (m.role === "tool") return { role: "tool", content: m.content, tool_call_id: m.toolCallId ?? "" };
  if (m.role === "assistant" && m.toolCalls?.length) {
    return {
      role: "assistant", content: m.content || null, ...(m.reasoning ? { reasoning_content: m.reasoning } : {}),
      tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
    };
  }
  return { role: m.role, content: m.content, ...(m.role === "assistant" && m.reasoning ? { reasoning_content: m.reasoning } : {}) };
}

interface WireTokenLogprob { token: string; logprob: number; bytes?: number[] | null }

/** The chat `logprobs.content` entries of an upstream chunk, as the engine contract's. */
export function chatLogprobs(content: readonly (WireTokenLogprob & { top_logprobs?: WireTokenLogprob[] })[]): GeneratedTokenLogprob[] {
  const one = (t: WireTokenLogprob) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes ?? [...Buffer.from(t.token, "utf8")] });
  return content.map((t) => ({ ...one(t), top: (t.top_logprobs ?? []).map(one) }));
}

/** A completions chunk's legacy `logprobs` (parallel arrays), as the engine contract's. */
export function legacyLogprobs(lp: { tokens?: string[]; token_logprobs?: (number | null)[]; top_logprobs?: (Record<string, number> | null)[] }): GeneratedTokenLogprob[] {
  const bytes = (token: string) => [...Buffer.from(token, "utf8")];
  return (lp.tokens ?? []).map((token, i) => ({
    token,
    bytes: bytes(token),
    logprob: lp.token_logprobs?.[i] ?? 0,
    top: Object.entries(lp.top_logprobs?.[i] ?? {}).sort((a, b) => b[1] - a[1]).map(([t, logprob]) => ({ token: t, logprob, bytes: bytes(t) })),
  }));
}
