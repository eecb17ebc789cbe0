import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { ApiKey, KeyStore } from "../../store/KeyStore.ts";
import { StoredText } from "./common.ts";
import * as wire from "../../wire/apiKey.ts";

const ADMIN = { access: "admin" } as const;
const Limit = Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }), Type.Null()]));
const CreateKey = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9._@-]*$" }),
  /** Model ids or aliases the key may use; absent or null: every model. */
  models: Type.Optional(Type.Union([Type.Array(StoredText({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 1024 }), Type.Null()])),
  rpm: Limit,
  tpm: Limit,
  max_parallel: Limit,
}, { additionalProperties: false });

export const keyJson = (k: Readonly<ApiKey>): wire.ApiKey => ({
  object: "api_key",
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  models: k.models && [...k.models],
  rpm: k.rpm,
  tpm: k.tpm,
  max_parallel: k.maxParallel,
  created_at: Math.floor(k.createdAt.getTime() / 1000),
  revoked_at: k.revokedAt ? Math.floor(k.revokedAt.getTime() / 1000) : null,
});

/**
 * /v1/admin/keys: list, create (the key is in this one response and nowhere else), revoke; each
 * declared admin-only, which the auth hook enforces.
 */
export function adminRoutes(app: FastifyInstance, keys: KeyStore): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.get("/v1/admin/keys", { config: ADMIN, schema: { response: { 200: wire.ApiKeyList } } }, async () => ({ object: "list" as const, data: (await keys.list({ includeRevoked: true })).map(keyJson) }));
  typed.post("/v1/admin/keys", { config: ADMIN, schema: { body: CreateKey, response: { 201: wire.CreatedApiKey } } }, async (request, reply) => {
    const b = request.body;
    const { key, record } = await keys.create({
      name: b.name,
      ...(b.models !== undefined ? { models: b.models } : {}),
      ...(b.rpm !== undefined ? { rpm: b.rpm } : {}),
      ...(b.tpm !== undefined ? { tpm: b.tpm } : {}),
      ...(b.max_parallel !== undefined ? { maxParallel: b.max_parallel } : {}),
    });
    return reply.status(201).send({ ...keyJson(record), key });
  });
  typed.delete("/v1/admin/keys/:name", { config: ADMIN, schema: { params: Type.Object({ name: StoredText({ minLength: 1, maxLength: 64 }) }), response: { 200: wire.ApiKey } } }, async (request) => keyJson(await keys.revoke(request.params.name)));
}
