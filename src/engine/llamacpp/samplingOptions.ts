import type { LlamaGrammarEvaluationState, SequenceEvaluateOptions, Token } from "node-llama-cpp";
import type { SamplingParams } from "../types.ts";
import type { Utf8Guard } from "./Utf8Guard.ts";

/**
 * A request's sampling settings as node-llama-cpp takes them: the one place they are decided.
 * `generated` is the completion so far (OpenAI's penalties count all of it, not a recent window);
 * `utf8` gives the bias for the next token: the request's logit_bias and the bans that keep its
 * text valid UTF-8; `toolGrammar`, for auto tool calls, gives the grammar in force for the next token.
 */
export function samplingOptions(s: SamplingParams, maxTokens: number, generated: readonly Token[], utf8: Utf8Guard, toolGrammar?: () => LlamaGrammarEvaluationState | undefined): SequenceEvaluateOptions {
  const { presencePenalty = 0, frequencyPenalty = 0 } = s;
  return {
    temperature: s.temperature,
    topK: s.topK ?? 0,
    topP: s.topP ?? 1,
    minP: s.minP ?? 0,
    seed: s.seed ?? Math.floor(Math.random() * 0xffffffff),
    yieldEogToken: true,
    ...(presencePenalty !== 0 || frequencyPenalty !== 0
      ? { repeatPenalty: { punishTokens: () => generated as Token[], maxPunishTokens: Math.max(1, maxTokens), penalty: 1, presencePenalty, frequencyPenalty } }
      : {}),
    // Read for every token: node-llama-cpp calls it before each sampling.
    ...(utf8.idle ? {} : { tokenBias: () => utf8.bias() }),
    // Auto tool calls: no grammar while the model writes text, the call's grammars once it starts one.
    ...(toolGrammar ? { grammarEvaluationState: toolGrammar } : {}),
  };
}
