import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { GeneratedTokenLogprob, Prompt } from "../../../engine/types.ts";
import { errors } from "../../../errors.ts";
import { serveGeneration } from "../../generation.ts";
import type { ResponseFormat } from "../../respond.ts";
import type { OpenAIFinishReason } from "../../../wire/chatCompletion.ts";
import { fanOut, LIMITS, timingsJson, toGenerateRequest, unixNow, usageJson, withMaxN } from "../common.ts";
import { bodyModel, defaultsFor, type RouteDeps } from "../deps.ts";
import { CompletionRequest } from "./schema.ts";

export function completionsRoute(app: FastifyInstance, deps: RouteDeps): void {
  const schema = withMaxN(CompletionRequest, deps.defaults.maxN ?? LIMITS.defaultMaxN);
  app.withTypeProvider<TypeBoxTypeProvider>().post("/v1/completions", { schema: { body: schema }, config: { model: bodyModel } }, async (request, reply) => {
    const body = request.body;
    if (body.echo === true) throw errors.unsupported("echo is not supported yet.", "echo");
    if (body.suffix != null && body.suffix !== "") throw errors.unsupported("suffix (insertion) is not supported yet.", "suffix");
    const job = toGenerateRequest(body, toPrompt(body.prompt), defaultsFor(deps, body.model));
    // The legacy field: the number of alternatives (0 to 5); the chosen token's logprob is always given.
    if (body.logprobs != null) job.logprobs = body.logprobs;
    const includeUsage = body.stream_options?.include_usage === true;
    // The usage log's request_id is the id the client got (choices: `<id>-<i>`).
    job.id = `cmpl-${randomUUID().replaceAll("-", "")}`;
    await serveGeneration(deps, request, reply, fanOut(job, body.n ?? 1), completionFormat(job.id, body.model, includeUsage), {
      stream: body.stream === true,
      includeUsage,
    });
  });
}

function toPrompt(prompt: CompletionRequest["prompt"]): Prompt {
  if (typeof prompt === "string") return { kind: "text", text: prompt };
  if (prompt.every((p): p is string => typeof p === "string")) return { kind: "text", text: prompt[0] ?? "" };
  return { kind: "tokens", tokens: prompt as number[] };
}

/** OpenAI's text_completion object, streamed as the same object with partial text. */
function completionFormat(id: string, model: string, includeUsage: boolean): ResponseFormat {
  const created = unixNow();
  const chunk = (index: number, text: string, finishReason: OpenAIFinishReason | null, logprobs: object | null = null) => ({
    id, object: "text_completion", created, model, system_fingerprint: null,
    choices: [{ index, text, logprobs, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  /** Each streamed choice's text so far, in characters: where its next token's text_offset starts. */
  const offsets: number[] = [];
  return {
    opening: () => null,
    chunk: (index, text, logprobs) => {
      const lp = logprobs ? legacyLogprobs(logprobs, offsets[index] ?? 0) : null;
      if (logprobs) offsets[index] = (offsets[index] ?? 0) + logprobs.reduce((n, t) => n + t.token.length, 0);
      return chunk(index, text, null, lp);
    },
    closing: (index, final) => ({ ...chunk(index, "", final.reason), timings: timingsJson(final.timings) }),
    usageChunk: (usage) => ({ id, object: "text_completion", created, model, system_fingerprint: null, choices: [], usage: usageJson(usage) }),
    complete: (choices, usage, timings) => ({
      id, object: "text_completion", created, model, system_fingerprint: null,
      choices: choices.map((c, index) => ({ index, text: c.text, logprobs: c.logprobs ? legacyLogprobs(c.logprobs, 0) : null, finish_reason: c.finishReason })),
      usage: usageJson(usage),
      timings: timingsJson(timings),
    }),
  };

  /** OpenAI's legacy completions `logprobs` object, text offsets counted from `start`. */
  function legacyLogprobs(tokens: readonly GeneratedTokenLogprob[], start: number) {
    let offset = start;
    const textOffset = tokens.map((t) => {
      const at = offset;
      offset += t.token.length;
      return at;
    });
    return {
      tokens: tokens.map((t) => t.token),
      token_logprobs: tokens.map((t) => t.logprob),
      top_logprobs: tokens.map((t) => Object.fromEntries(t.top.map((a) => [a.token, a.logprob]))),
      text_offset: textOffset,
    };
  }
}
