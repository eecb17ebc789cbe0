import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";

// Slow or idle clients must not hold sockets: the server's timeouts close them while it keeps
// answering others. Small timeouts here; the defaults are in the config schema.
let server: TestServer;
let port: number;
before(async () => {
  server = await startServer({ fake: true, load: false, config: { http: { headers_timeout_ms: 600, request_timeout_ms: 1200, keep_alive_timeout_ms: 300 } } });
  port = Number(new URL(server.url).port);
});
after(() => server.close());

/** Resolves with what the server sent once it closes the connection. */
function closed(socket: Socket): Promise<string> {
  let received = "";
  socket.on("data", (d) => { received += d.toString(); });
  socket.on("error", () => {});
  return new Promise((resolve) => socket.once("close", () => resolve(received)));
}

async function healthMs(): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${server.url}/health`);
  await res.arrayBuffer();
  return performance.now() - started;
}

test("clients sending headers one byte at a time are cut off while /health answers in under 100 ms", { timeout: 20_000 }, async () => {
  const head = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Slow: ";
  const sockets = Array.from({ length: 50 }, () => connect(port, "127.0.0.1"));
  const ends = sockets.map(closed);
  // One byte per 100 ms (the headers would take seconds); the sending is the behaviour under test.
  const timers = sockets.map((s, i) => {
    let sent = 0;
    return setInterval(() => { if (!s.destroyed) s.write(head[sent++ % head.length]!); }, 100 + (i % 7));
  });
  try {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) times.push(await healthMs());
    times.sort((a, b) => a - b);
    assert.ok(times[5]! < 100, `/health took ${times.map(Math.round).join(", ")} ms with 50 slow clients`);
    const answers = await Promise.all(ends);
    for (const a of answers) {
      assert.match(a, /^HTTP\/1\.1 408 /);
      const error = (JSON.parse(a.slice(a.indexOf("\r\n\r\n") + 4)) as { error: { type: string; code: string } }).error;
      assert.deepEqual([error.type, error.code], ["invalid_request_error", "client_timeout"]);
    }
  } finally {
    timers.forEach(clearInterval);
  }
});

test("a connection that sends nothing is closed", { timeout: 20_000 }, async () => {
  const socket = connect(port, "127.0.0.1");
  await closed(socket);
});

test("an idle keep-alive connection is closed after keep_alive_timeout_ms", { timeout: 20_000 }, async () => {
  const socket = connect(port, "127.0.0.1");
  const end = closed(socket);
  socket.write("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
  const received = await end;
  assert.match(received, /^HTTP\/1\.1 (200|503) /, "answered (503 while the model is not loaded), then closed");
  assert.match(received, /keep-alive/i);
});

test("the timeouts are config options with defaults", async () => {
  const { resolveConfig } = await import("../../src/config/loadConfig.ts");
  const config = resolveConfig({}, {});
  assert.deepEqual(config.http, { headers_timeout_ms: 30_000, request_timeout_ms: 60_000, keep_alive_timeout_ms: 72_000, connection_timeout_ms: 0, stream_buffer_bytes: 1024 * 1024 });
});
