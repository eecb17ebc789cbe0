import { TokenBias, type LlamaGrammarEvaluationState, type LlamaModel, type SequenceEvaluateOptions, type Token } from "node-llama-cpp";
import type { SamplingParams } from "../types.ts";

/**
 * A request's sampling settings as node-llama-cpp takes them: the one place they are decided.
 * `generated` is the completion so far (OpenAI's penalties count all of it, not a recent window);
 * `toolGrammar`, for auto tool calls, gives the grammar in force for the next token.
 */
export function samplingOptions(model: LlamaModel, s: SamplingParams, maxTokens: number, generated: readonly Token[], toolGrammar?: () => LlamaGrammarEvaluationState | undefined): SequenceEvaluateOptions {
  const { presencePenalty = 0, frequencyPenalty = 0, logitBias } = s;
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
    ...(logitBias && Object.keys(logitBias).length > 0 ? { tokenBias: tokenBias(model, logitBias) } : {}),
    // Auto tool calls: no grammar while the model writes text, the call's grammars once it starts one.
    ...(toolGrammar ? { grammarEvaluationState: toolGrammar } : {}),
  };
}

/**
 * OpenAI's logit_bias as node-llama-cpp's TokenBias: each bias is added to the token's logit.
 * TokenBias.set() skips end-of-generation tokens; OpenAI lets a client bias (ban) those too, so the
 * biases go in its map directly (the map node-llama-cpp 3.21.1 hands to llama.cpp's logit-bias sampler).
 */
function tokenBias(model: LlamaModel, logitBias: Record<string, number>): TokenBias {
  const bias = TokenBias.for(model);
  const map = (bias as unknown as { _biases?: Map<Token, number> })._biases;
  for (const [id, value] of Object.entries(logitBias)) {
    if (map instanceof Map) map.set(Number(id) as Token, value);
    else bias.set(Number(id) as Token, { logit: value });
  }
  return bias;
}
