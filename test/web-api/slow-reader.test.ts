import assert from "node:assert/strict";
import { connect } from "node:net";
import { WebSocket } from "ws";
import { after, before, test } from "node:test";
import type { FinishedRequest } from "../../src/engine/types.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

// A streaming client that stops reading must not make the server hold its whole answer: past
// http.stream_buffer_bytes of unsent output the stream is cut and the generation cancelled.
// Waiting for the socket to drain is not enough on its own: the runner keeps generating into the
// engine's event queue while the response waits.
const LIMIT = 64 * 1024;
let server: TestServer;
before(async () => {
  server = await startServer({ fake: true, config: { inference: { context_length: 4096 }, http: { stream_buffer_bytes: LIMIT } } });
});
after(() => server.close());

test("a stream whose client stops reading is cut and its generation cancelled", { timeout: 120_000 }, async () => {
  const maxTokens = 3800;
  const finished = new Promise<FinishedRequest>((resolve) => { const off = server.hearth.router.onFinished((r) => { off(); resolve(r); }); });
  // About 1.5 KB of SSE per token with 20 alternatives each: some 11 MB, more than the kernel's
  // socket buffers (a few MB on loopback) can take.
  const body = JSON.stringify({
    model: "tiny", messages: [{ role: "user", content: "hi" }], stream: true, n: 2,
    max_tokens: maxTokens, logprobs: true, top_logprobs: 20, temperature: 1, seed: 1,
  });
  const { port } = new URL(server.url);
  const socket = connect(Number(port), "127.0.0.1");
  socket.on("error", () => {});
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.pause(); // and never read
  try {
    const r = await finished;
    assert.equal(r.reason, "cancelled", `the generation ran to '${r.reason}' with ${r.usage.completionTokens} tokens while nobody read them`);
    assert.ok(r.usage.completionTokens < 2 * maxTokens);
  } finally {
    socket.destroy();
  }
  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200);
});

test("a WebSocket stream whose client stops reading is cut the same way", { timeout: 120_000 }, async () => {
  const maxTokens = 3800;
  const finished = new Promise<FinishedRequest>((resolve) => { const off = server.hearth.router.onFinished((r) => { off(); resolve(r); }); });
  const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/v1/chat/completions/ws`);
  ws.on("error", () => {});
  await new Promise((resolve) => ws.once("open", resolve));
  ws.send(JSON.stringify({
    model: "tiny", messages: [{ role: "user", content: "hi" }], n: 2,
    max_tokens: maxTokens, logprobs: true, top_logprobs: 20, temperature: 1, seed: 1,
  }));
  ws.pause(); // and never read
  try {
    const r = await finished;
    assert.equal(r.reason, "cancelled", `the generation ran to '${r.reason}' with ${r.usage.completionTokens} tokens while nobody read them`);
  } finally {
    ws.terminate();
  }
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
});
