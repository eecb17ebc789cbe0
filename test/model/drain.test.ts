import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openStore } from "../../src/store/openStore.ts";
import { startServer } from "../helpers/server.ts";

/** A server with its own data folder, kept after close so that its usage log can be read. */
async function serverWithData(config: Record<string, unknown> = {}) {
  const data = await mkdtemp(join(tmpdir(), "hearth-drain-"));
  const server = await startServer({ config: { data_dir: data, inference: { context_length: 4096 }, ...config } });
  const rows = async () => {
    const store = await openStore({ dataDir: data });
    try {
      return (await store.query<{ status: number; finish_reason: string | null; completion_tokens: number }>("SELECT status, finish_reason, completion_tokens FROM usage_log")).rows;
    } finally {
      await store.close();
      await rm(data, { recursive: true, force: true });
    }
  };
  return { server, rows };
}

const longStory = { model: "tiny", messages: [{ role: "user" as const, content: "Tell me a very long story" }], max_tokens: 3000, temperature: 0, stream: true as const };

test("a shutdown drains: /health turns unready, the stream under way finishes, and its usage row is written", async () => {
  const { server, rows } = await serverWithData();
  const stream = await server.client.chat.completions.create(longStory);
  let text = "";
  let finish: string | null = null;
  let closing: Promise<void> | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (!closing && text.length > 0) {
      closing = server.hearth.close();
      // Readiness goes false first: a new request is refused (503, or the connection refused).
      const health = await fetch(`${server.url}/health`).then((r) => r.status, () => "refused");
      assert.ok(health === 503 || health === "refused", `health: ${health}`);
    }
  }
  await closing;
  assert.ok(finish === "length" || finish === "stop", `the stream finished on its own: ${finish}`);
  const written = await rows();
  assert.equal(written.length, 1);
  assert.equal(written[0]!.status, 200);
  assert.equal(written[0]!.finish_reason, finish);
});

test("a request still running when the shutdown timeout ends is cancelled, and its row written", async () => {
  const { server, rows } = await serverWithData({ shutdown_timeout_ms: 200 });
  const stream = await server.client.chat.completions.create(longStory);
  let closing: Promise<void> | undefined;
  let chunks = 0;
  try {
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) chunks++;
      closing ??= server.hearth.close();
    }
  } catch {
    // The cancelled stream may end with an error event, which the SDK throws.
  }
  await closing;
  assert.ok(chunks > 0);
  const written = await rows();
  assert.equal(written.length, 1);
  assert.equal(written[0]!.finish_reason, "cancelled");
  assert.ok(written[0]!.completion_tokens > 0 && written[0]!.completion_tokens < 3000);
});
