import { EventEmitter } from "node:events";
import type { PullEvent } from "../wire/pullEvent.ts";
import type { ModelState } from "../engine/types.ts";

/** What GET /v1/models/events streams: model state changes and pull progress. */
export type ModelEvent =
  | { type: "state"; model: string; state: ModelState; error?: string }
  | { type: "added" | "removed"; model: string }
  | ({ type: "pull" } & PullEvent);

export class ModelEvents extends EventEmitter<{ event: [ModelEvent] }> {
  publish(event: ModelEvent): void {
    this.emit("event", event);
  }
}
