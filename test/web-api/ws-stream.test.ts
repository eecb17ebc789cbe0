import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import { startServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";

let server: TestServer;
before(async () => { server = await startServer({ fake: true }); });
after(() => server.close());

const wsUrl = (path = "/v1/chat/completions/ws") => server.url.replace(/^http/, "ws") + path;
const messages = [{ role: "user" as const, content: "Tell me about hearths." }];

/** A WebSocket client that queues the messages it receives, to be read in order. */
class Client {
  readonly ws: WebSocket;
  readonly #queue: string[] = [];
  #wake: (() => void) | null = null;
  constructor(url: string, protocols?: string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.on("message", (data) => { this.#queue.push(data.toString()); this.#wake?.(); });
    this.ws.on("close", () => this.#wake?.());
  }
  opened(): Promise<void> {
    return new Promise((resolve, reject) => { this.ws.once("open", () => resolve()); this.ws.once("error", reject); });
  }
  send(body: unknown) { this.ws.send(typeof body === "string" ? body : JSON.stringify(body)); }
  async next(): Promise<string> {
    while (this.#queue.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error("socket closed");
      await new Promise<void>((r) => { this.#wake = r; });
    }
    return this.#queue.shift()!;
  }
  /** Every message up to and including [DONE]. */
  async untilDone(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const m = await this.next();
      out.push(m);
      if (m === "[DONE]") return out;
    }
  }
}

async function connect(path?: string): Promise<Client> {
  const c = new Client(wsUrl(path));
  await c.opened();
  return c;
}

const textOf = (chunks: string[]) => chunks.filter((m) => m !== "[DONE]").map((m) => JSON.parse(m) as { choices: { delta: { content?: string } }[] })
  .map((c) => c.choices[0]?.delta.content ?? "").join("");

async function sseChunks(body: object): Promise<string[]> {
  const res = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  const text = await res.text();
  return text.split("\n\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
}

const idle = async () => {
  const res = await fetch(`${server.url}/v1/slots`);
  const slots = (await res.json()) as { data: { state: string }[]; queue_depth: number };
  return slots.queue_depth === 0 && slots.data.every((s) => s.state === "idle");
};
const busy = async () => !(await idle());

test("a WebSocket stream sends the same chunks as SSE, then [DONE]", async () => {
  const request = { model: server.model, messages, max_tokens: 24, temperature: 0, stream_options: { include_usage: true } };
  const sse = await sseChunks(request);
  const c = await connect();
  c.send(request);
  const ws = await c.untilDone();
  assert.equal(ws.at(-1), "[DONE]");
  assert.equal(textOf(ws), textOf(sse));
  assert.ok(textOf(ws).length > 0);
  const objects = ws.slice(0, -1).map((m) => JSON.parse(m) as { object: string; usage: { completion_tokens: number } | null; choices: { finish_reason: string | null }[] });
  assert.ok(objects.every((o) => o.object === "chat.completion.chunk"));
  assert.deepEqual(objects.at(-1)!.choices, [], "the last chunk is the usage chunk");
  assert.equal(objects.at(-1)!.usage?.completion_tokens, 24);
  assert.equal(objects.flatMap((o) => o.choices.map((ch) => ch.finish_reason)).filter(Boolean).join(), "length");
  // The same socket serves another request after the first one.
  c.send({ ...request, stream_options: undefined });
  const again = await c.untilDone();
  assert.equal(textOf(again), textOf(ws));
  c.ws.close();
});

test("the seeds' /chat/stream path is the same WebSocket", async () => {
  const c = await connect("/chat/stream");
  c.send({ model: server.model, messages, max_tokens: 4, temperature: 0 });
  const out = await c.untilDone();
  assert.equal(out.at(-1), "[DONE]");
  c.ws.close();
});

test("closing the socket mid-stream frees the slot", async () => {
  const c = await connect();
  c.send({ model: server.model, messages, max_tokens: 900, temperature: 0 });
  await c.next(); // the opening chunk: the request is being served
  await c.next();
  assert.ok(await busy(), "the request holds a slot while it streams");
  c.ws.close();
  await waitUntil(idle, "every slot is idle after the socket closed", 5000);
});

test("a cancel message ends the stream with [DONE] and frees the slot; the socket serves the next request", async () => {
  const c = await connect();
  c.send({ model: server.model, messages, max_tokens: 900, temperature: 0 });
  await c.next();
  await c.next();
  c.send({ type: "cancel" });
  const rest = await c.untilDone();
  assert.equal(rest.at(-1), "[DONE]");
  assert.ok(rest.slice(0, -1).every((m) => !("error" in JSON.parse(m))), "a cancelled stream has no error");
  await waitUntil(idle, "every slot is idle after the cancel", 5000);
  c.send({ model: server.model, messages, max_tokens: 3, temperature: 0 });
  assert.equal((await c.untilDone()).at(-1), "[DONE]");
  c.ws.close();
});

test("bad messages get OpenAI-shaped errors and the socket stays usable", async () => {
  const c = await connect();
  const errorOf = async () => (JSON.parse(await c.next()) as { error: { message: string; type: string; param: string | null; code: string } }).error;

  c.send("this is not JSON");
  const notJson = await errorOf();
  assert.equal(notJson.code, "invalid_json");
  assert.equal(notJson.type, "invalid_request_error");

  c.send({ model: server.model, messages: "hello" });
  const invalid = await errorOf();
  assert.equal(invalid.code, "invalid_request");
  assert.equal(invalid.param, "messages");

  c.send({ model: "no-such-model", messages });
  const unknown = await errorOf();
  assert.equal(unknown.code, "model_not_found");
  assert.equal(unknown.param, "model");

  c.send({ model: server.model, messages, max_tokens: 900, temperature: 0 });
  await c.next();
  c.send({ model: server.model, messages, max_tokens: 3 });
  const busyError = await (async () => {
    for (;;) {
      const m = JSON.parse(await c.next()) as { error?: { code: string } };
      if (m.error) return m.error;
    }
  })();
  assert.equal(busyError.code, "request_in_progress");
  c.send({ type: "cancel" });
  await c.untilDone();

  c.send({ model: server.model, messages, max_tokens: 5, temperature: 0 });
  const ok = await c.untilDone();
  assert.equal(ok.at(-1), "[DONE]");
  assert.ok(textOf(ok).length > 0);
  c.ws.close();
});
