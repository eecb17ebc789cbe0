import { Type, type Static } from "typebox";

/**
 * available: known, not in memory; loading -> loaded; unloading -> available; failed: could not be
 * loaded (see `error`), retried on the next request.
 */
export const ModelState = Type.Union([Type.Literal("available"), Type.Literal("loading"), Type.Literal("loaded"), Type.Literal("unloading"), Type.Literal("failed")]);
export type ModelState = Static<typeof ModelState>;

const Bytes = Type.Union([Type.Integer(), Type.Null()]);

/** OpenAI's model object, plus where the model stands in this server. */
export const Model = Type.Object({
  id: Type.String(),
  object: Type.Literal("model"),
  created: Type.Integer(),
  owned_by: Type.String(),
  state: ModelState,
  /** Why the last load failed. */
  error: Type.Optional(Type.String()),
  aliases: Type.Array(Type.String()),
  pinned: Type.Boolean(),
  context_length: Type.Integer(),
  /** Once loaded: the family node-llama-cpp recognizes, what renders its prompts, from which template, and whether reasoning is read apart. */
  chat_template: Type.Union([Type.Object({
    family: Type.String(),
    wrapper: Type.String(),
    source: Type.Union([Type.Literal("gguf"), Type.Literal("file")]),
    reasoning: Type.Boolean(),
  }), Type.Null()]),
  size_bytes: Bytes,
  // A number: node-llama-cpp's estimate is not promised whole, and an integer schema would truncate it.
  memory_estimate_bytes: Type.Union([Type.Number(), Type.Null()]),
  /** Null while not loaded. */
  memory_bytes: Bytes,
});
export type Model = Static<typeof Model>;

export const ModelList = Type.Object({ object: Type.Literal("list"), data: Type.Array(Model) });
export type ModelList = Static<typeof ModelList>;
