import type { ServingEngine } from "../../engine/types.ts";
import type { Metrics } from "../../metrics/Metrics.ts";
import type { InferenceDefaults } from "./common.ts";

/** What the routes need from the server; they see the engine only through its contract. */
export interface RouteDeps {
  engine: ServingEngine;
  metrics: Metrics;
  defaults: InferenceDefaults;
  bodyLimit: number;
}
