import type { Engine } from "../../engine/types.ts";
import type { InferenceDefaults } from "./common.ts";

/** What the routes need from the server; they see the engine only through its interface. */
export interface RouteDeps {
  engine: Engine;
  defaults: InferenceDefaults;
  bodyLimit: number;
}
