import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { errors } from "../../../errors.ts";
import { chargeKey } from "../../generation.ts";
import { bodyModel, type RouteDeps } from "../deps.ts";
import { EmbeddingRequest } from "./schema.ts";

/** POST /v1/embeddings, in OpenAI's shape: all inputs go to the model's runner in one call. */
export function embeddingsRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post("/v1/embeddings", { schema: { body: EmbeddingRequest }, config: { model: bodyModel } }, async (request, reply) => {
    const body = request.body;
    const inputs = toInputs(body.input);
    // Charged at about 4 characters a token; settled with the real count.
    const release = await chargeKey(deps, request, reply, inputs.reduce((n, i) => n + (typeof i === "string" ? Math.ceil(i.length / 4) + 1 : i.length), 0));
    // The client going away stops the work before the next input.
    const controller = new AbortController();
    reply.raw.once("close", () => { if (!reply.raw.writableEnded) controller.abort(); });
    let promptTokens = 0;
    let vectors: number[][];
    try {
      ({ vectors, promptTokens } = await deps.router.embed(body.model, inputs, controller.signal));
    } finally {
      await release(promptTokens);
    }
    request.record.answered = { usage: { promptTokens, completionTokens: 0, cachedPromptTokens: 0 }, cacheHit: false };
    checkDimensions(vectors, body.dimensions);
    const base64 = body.encoding_format === "base64";
    return {
      object: "list",
      data: vectors.map((v, index) => ({ object: "embedding", index, embedding: base64 ? float32Base64(v) : v })),
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  });
}

/** A request's `dimensions`, when given, must be the model's own width: the vectors cannot be shortened. */
export function checkDimensions(vectors: readonly number[][], dimensions: number | null | undefined): void {
  const width = vectors[0]?.length ?? 0;
  if (dimensions != null && dimensions !== width) {
    throw errors.unsupported(`'dimensions' must be ${width}, this model's embedding size: its vectors cannot be shortened.`, "dimensions");
  }
}

/** OpenAI's four input forms as a list of inputs: a token-id array is one input. */
function toInputs(input: EmbeddingRequest["input"]): (string | number[])[] {
  if (typeof input === "string") return [input];
  if (input.length > 0 && typeof input[0] === "number") return [input as number[]];
  return input as string[] | number[][];
}

/** The vector as OpenAI's base64: little-endian float32s. */
function float32Base64(v: readonly number[]): string {
  const buf = Buffer.allocUnsafe(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString("base64");
}
