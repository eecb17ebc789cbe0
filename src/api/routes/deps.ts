import type { Engine } from "../../engine/types.ts";
import type { Metrics } from "../../metrics/Metrics.ts";
import type { InferenceDefaults } from "./common.ts";

/** What the routes need from the server; they see the engine only through its interface. */
export interface RouteDeps {
  engine: Engine;
  metrics: Metrics;
  defaults: InferenceDefaults;
  bodyLimit: number;
  /** A metrics label for a requested model name: served ids as they are, anything else "other". */
  modelLabel(model: unknown): string;
}
