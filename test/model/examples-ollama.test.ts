import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FinishedRequest } from "../../src/engine/types.ts";
import { assertConversationKept, runExample } from "../helpers/runExample.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** The Ollama client examples, run as a user runs them (`node examples/x.ts`) against a real server, on its Ollama port. */
let server: TestServer;
const finished: FinishedRequest[] = [];
before(async () => {
  server = await startServer({ config: { inference: { context_length: 2048 }, ollama: { port: 0 } } });
  server.hearth.router.onFinished((r) => finished.push(r));
});
after(() => server.close());

const run = (example: string, args: string[] = [], stdin = "") => runExample(example, { HEARTH_URL: server.hearth.ollamaUrl!, HEARTH_MODEL: "tiny" }, { args, stdin });

test("ollama-chat: one reply per line of stdin, the conversation kept from turn to turn", async () => {
  finished.length = 0;
  const { code, out, err } = await run("ollama-chat.ts", [], "Hello there\n\nAnd again\n");
  assert.equal(code, 0, err);
  const lines = out.split("\n").filter(Boolean);
  assert.equal(lines.length, 2, out);
  for (const line of lines) assert.match(line, /^assistant: /);
  assertConversationKept(finished);
  assert.equal(finished[0]!.route, "/api/chat");
});

test("ollama-stream: the reply's text, then how it ended", async () => {
  const { code, out, err } = await run("ollama-stream.ts", ["Write a haiku about the sea."]);
  assert.equal(code, 0, err);
  const m = /^([\s\S]*)\n\[(stop|length): (\d+) tokens\]\n$/.exec(out);
  assert.ok(m, out);
  assert.ok(Number(m[3]) >= 1);
});

test("ollama-batch: one JSON line per prompt, in order", async () => {
  finished.length = 0;
  const prompts = ["Name a colour.", "Name a fruit.", "Name a river."];
  const { code, out, err } = await run("ollama-batch.ts", prompts);
  assert.equal(code, 0, err);
  const answers = out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { prompt: string; response: string; done_reason: string; eval_count: number });
  assert.deepEqual(answers.map((a) => a.prompt), prompts);
  for (const a of answers) {
    assert.equal(typeof a.response, "string");
    assert.ok(["stop", "length"].includes(a.done_reason));
    assert.ok(a.eval_count >= 1);
  }
  assert.deepEqual(finished.map((r) => r.route), ["/api/generate", "/api/generate", "/api/generate"]);
});
