import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { post, startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
before(async () => { server = await startServer(); });
after(() => server.close());

const FIVE_MB = "hello world ".repeat(5_000_000 / 12);

/**
 * Runs `body` with the model's runner process stopped (SIGSTOP): whatever still answers meanwhile
 * did not wait on the runner. Before the fix each of these waited for it, so the test hung until
 * its timeout.
 */
async function withRunnerFrozen(body: () => Promise<void>): Promise<void> {
  const pid = server.hearth.router.runner("tiny")!.pid!;
  process.kill(pid, "SIGSTOP");
  try {
    await body();
  } finally {
    process.kill(pid, "SIGCONT");
  }
}

test("/health answers from the server's own state while the runner is frozen, counting the request stuck in it", { timeout: 60_000 }, async () => {
  const stream = await server.client.chat.completions.create({ model: server.model, messages: [{ role: "user", content: "hi" }], max_tokens: 20, temperature: 0, stream: true });
  const chunks = stream[Symbol.asyncIterator]();
  await chunks.next(); // running: its first chunk is out
  await withRunnerFrozen(async () => {
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { status: string; slots_busy: number; slots_total: number; queue_depth: number };
    assert.deepEqual([body.status, body.slots_busy, body.slots_total, body.queue_depth], ["ok", 1, 2, 0]);
  });
  let finish: string | null | undefined;
  for (let r = await chunks.next(); !r.done; r = await chunks.next()) finish ??= r.value.choices[0]?.finish_reason;
  assert.equal(finish, "length");
  const idle = (await (await fetch(`${server.url}/health`)).json()) as { slots_busy: number };
  assert.equal(idle.slots_busy, 0, "a finished request no longer counts");
});

test("a 5 MB prompt is refused from its size with context_length_exceeded, without reaching the runner", { timeout: 60_000 }, async () => {
  await withRunnerFrozen(async () => {
    const chat = await post(`${server.url}/v1/chat/completions`, { model: server.model, messages: [{ role: "user", content: FIVE_MB }], max_tokens: 8 });
    assert.equal(chat.status, 400);
    assert.equal(chat.json.error?.code, "context_length_exceeded");
    assert.equal(chat.json.error?.param, "messages");
    assert.match(chat.json.error!.message, /maximum context length is 1024 tokens\. However, you requested at least \d+ tokens/);

    const text = await post(`${server.url}/v1/completions`, { model: server.model, prompt: FIVE_MB });
    assert.deepEqual([text.status, text.json.error?.code, text.json.error?.param], [400, "context_length_exceeded", "prompt"]);

    const embedding = await post(`${server.url}/v1/embeddings`, { model: server.model, input: ["short", FIVE_MB] });
    assert.deepEqual([embedding.status, embedding.json.error?.code, embedding.json.error?.param], [400, "context_length_exceeded", "input[1]"]);
  });
});

test("/tokenize refuses content longer than any prompt of the model, with a clear 400, without reaching the runner", { timeout: 60_000 }, async () => {
  await withRunnerFrozen(async () => {
    const res = await post(`${server.url}/tokenize`, { model: server.model, content: FIVE_MB });
    assert.equal(res.status, 400);
    assert.equal(res.json.error?.param, "content");
    assert.match(res.json.error!.message, /'content' is 4999992 bytes, more than any prompt of this model/);
  });
  const ok = await post(`${server.url}/tokenize`, { model: server.model, content: "hello" });
  assert.deepEqual(ok.json.tokens, [104, 101, 108, 108, 111]);
});

test("a prompt over the context but under the size bound is still tokenized, and refused with its exact count", async () => {
  const res = await post(`${server.url}/v1/completions`, { model: server.model, prompt: "x".repeat(2000), max_tokens: 4 });
  assert.equal(res.status, 400);
  assert.equal(res.json.error?.code, "context_length_exceeded");
  assert.match(res.json.error!.message, /\(2001 in the prompt, 4 in the completion\)/);
});
