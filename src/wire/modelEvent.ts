import { Type, type Static } from "typebox";
import { ModelState } from "./model.ts";
import { PullEvent } from "./pullEvent.ts";

/**
 * What GET /v1/models/events streams after its first `models` event (a ModelList): each event's
 * `type` is also its SSE event name.
 */
export const ModelEvent = Type.Union([
  Type.Object({ type: Type.Literal("state"), model: Type.String(), state: ModelState, error: Type.Optional(Type.String()) }),
  Type.Object({ type: Type.Union([Type.Literal("added"), Type.Literal("removed")]), model: Type.String() }),
  Type.Object({ type: Type.Literal("pull"), ...PullEvent.properties }),
]);
export type ModelEvent = Static<typeof ModelEvent>;
