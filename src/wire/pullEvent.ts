import { Type, type Static } from "typebox";
import { Model } from "./model.ts";

/**
 * A pull's progress, as GET /v1/models/events and POST /v1/models/pull report it. Files in src/wire
 * import only typebox, so that the web app and the CLI import their types type-only.
 */
export const PullEvent = Type.Object({
  pull_id: Type.String(),
  source: Type.String(),
  model: Type.String(),
  phase: Type.String(),
  received_bytes: Type.Integer(),
  total_bytes: Type.Union([Type.Integer(), Type.Null()]),
  bytes_per_second: Type.Integer(),
  eta_seconds: Type.Union([Type.Number(), Type.Null()]),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});
export type PullEvent = Static<typeof PullEvent>;

/**
 * What a finished pull answers (POST /v1/models/pull without `stream`, or its `done` event); `model`
 * once the model is served.
 */
export const PullResult = Type.Object({
  id: Type.String(),
  size_bytes: Type.Integer(),
  sha256: Type.String(),
  /** What the download was checked against: a published SHA-256, the published size, or nothing. */
  verified: Type.Union([Type.Literal("sha256"), Type.Literal("size"), Type.Literal("none")]),
  resumed_from_bytes: Type.Integer(),
  already_present: Type.Boolean(),
  model: Type.Optional(Model),
});
export type PullResult = Static<typeof PullResult>;
