import assert from "node:assert/strict";
import { test } from "node:test";
import type { FinishedRequest } from "../../src/engine/types.ts";
import { usageRowFromFinished } from "../../src/store/usageRow.ts";

const finished = (over: Partial<FinishedRequest> = {}): FinishedRequest => ({
  id: "chatcmpl-1", model: "llama", reason: "stop", accepted: true, endpoint: "chat",
  usage: { promptTokens: 12, completionTokens: 3, cachedPromptTokens: 8 },
  timings: { queueMs: 2, promptMs: 10, generationMs: 30, promptEvaluated: 4, promptCached: 8, completionTokens: 3 },
  ttftMs: 12, e2eMs: 42, ...over,
});

test("a finished request becomes a usage row with its key, user, route and usage", () => {
  const ts = new Date("2025-01-02T03:04:05Z");
  assert.deepEqual(usageRowFromFinished(finished({ tenant: "alice", user: "u-7" }), { ts }), {
    ts, requestId: "chatcmpl-1", keyName: "alice", model: "llama", route: "/v1/chat/completions", status: 200, finishReason: "stop",
    promptTokens: 12, cachedTokens: 8, completionTokens: 3, queueMs: 2, ttftMs: 12, durationMs: 42, errorType: null, userId: "u-7", cacheHit: false,
  });
});

test("a refused request keeps its error code and status, and has no finish reason", () => {
  const r = usageRowFromFinished(finished({ accepted: false, reason: "error", endpoint: "text", error: { code: "model_not_found", statusCode: 404, type: "invalid_request_error" } }));
  assert.deepEqual([r.status, r.errorType, r.finishReason, r.route], [404, "model_not_found", null, "/v1/completions"]);
  assert.equal(usageRowFromFinished(finished(), { status: 499, cacheHit: true, route: "/x" }).status, 499);
});
