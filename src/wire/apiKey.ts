import { Type, type Static } from "typebox";

const Limit = Type.Union([Type.Integer(), Type.Null()]);

/** An API key as the admin API shows it: never the key itself, which only its creation answers with. */
export const ApiKey = Type.Object({
  object: Type.Literal("api_key"),
  id: Type.Integer(),
  name: Type.String(),
  /** The key's first characters, to tell keys apart. */
  prefix: Type.String(),
  /** Null: every model. */
  models: Type.Union([Type.Array(Type.String()), Type.Null()]),
  rpm: Limit,
  tpm: Limit,
  max_parallel: Limit,
  created_at: Type.Integer(),
  revoked_at: Type.Union([Type.Integer(), Type.Null()]),
});
export type ApiKey = Static<typeof ApiKey>;

export const CreatedApiKey = Type.Object({ ...ApiKey.properties, key: Type.String() });
export type CreatedApiKey = Static<typeof CreatedApiKey>;

export const ApiKeyList = Type.Object({ object: Type.Literal("list"), data: Type.Array(ApiKey) });
export type ApiKeyList = Static<typeof ApiKeyList>;
