import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errors } from "../../errors.ts";
import { LIMITS } from "./common.ts";
import type { RouteDeps } from "./deps.ts";

const ModelName = Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Null()]));

/** llama-server's POST /tokenize. */
export const TokenizeRequest = Type.Object({
  /** Optional, as llama-server serves one model: the only (or only pinned) model when left out. */
  model: ModelName,
  content: Type.String(),
  /** Add BOS (and EOS) when the model's tokenizer asks for them; default false, as llama-server. */
  add_special: Type.Optional(Type.Boolean()),
  /** Answer `[{id, piece}]` instead of ids. */
  with_pieces: Type.Optional(Type.Boolean()),
});

/** llama-server's POST /detokenize. */
export const DetokenizeRequest = Type.Object({
  model: ModelName,
  tokens: Type.Array(Type.Integer({ minimum: 0, maximum: 0x7fffffff }), { maxItems: LIMITS.maxPromptTokenIds }),
});

export function tokenizeRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // The model asked for, else the only one, else the only pinned one: what the permission step checks.
  const asked = (request: FastifyRequest) => modelFor(deps, (request.body as { model?: string | null }).model);
  typed.post("/tokenize", { schema: { body: TokenizeRequest }, config: { model: asked } }, async (request) => {
    const { content, add_special, with_pieces } = request.body;
    const model = request.record.model!;
    const withPieces = with_pieces === true;
    const { tokens, pieces } = await deps.router.tokenize(model, content, { addSpecial: add_special === true, withPieces });
    return { tokens: withPieces ? tokens.map((id, i) => ({ id, piece: pieces?.[i] ?? "" })) : tokens };
  });
  typed.post("/detokenize", { schema: { body: DetokenizeRequest }, config: { model: asked } }, async (request) => {
    return { content: await deps.router.detokenize(request.record.model!, request.body.tokens) };
  });
}

/** The model a request names, else the only model, else the only pinned one. */
function modelFor(deps: RouteDeps, name: string | null | undefined): string {
  let model = name ?? undefined;
  if (model === undefined) {
    const all = deps.router.models();
    const pinned = all.filter((m) => m.pinned);
    model = all.length === 1 ? all[0]!.id : pinned.length === 1 ? pinned[0]!.id : undefined;
    if (model === undefined) throw errors.invalidRequest("This server serves several models: say which in 'model'.", "model");
  }
  return model;
}
