import { EventEmitter } from "node:events";
import type { ModelState } from "../engine/types.ts";

/** What GET /v1/models/events streams: model state changes and pull progress. */
export type ModelEvent =
  | { type: "state"; model: string; state: ModelState; error?: string }
  | { type: "added" | "removed"; model: string }
  | {
    type: "pull";
    pull_id: string;
    source: string;
    model: string;
    phase: string;
    received_bytes: number;
    total_bytes: number | null;
    bytes_per_second: number;
    eta_seconds: number | null;
    error?: { code: string; message: string };
  };

export class ModelEvents extends EventEmitter<{ event: [ModelEvent] }> {
  publish(event: ModelEvent): void {
    this.emit("event", event);
  }
}
