/**
 * A pull's progress, as GET /v1/models/events and POST /v1/models/pull report it. Wire types here
 * import nothing, so that the web app imports them type-only.
 */
export interface PullEvent {
  pull_id: string;
  source: string;
  model: string;
  phase: string;
  received_bytes: number;
  total_bytes: number | null;
  bytes_per_second: number;
  eta_seconds: number | null;
  error?: { code: string; message: string };
}
