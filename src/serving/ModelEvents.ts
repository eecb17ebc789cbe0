import { EventEmitter } from "node:events";
import type { ModelEvent } from "../wire/modelEvent.ts";

export class ModelEvents extends EventEmitter<{ event: [ModelEvent] }> {
  publish(event: ModelEvent): void {
    this.emit("event", event);
  }
}
