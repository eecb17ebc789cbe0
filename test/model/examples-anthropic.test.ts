import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FinishedRequest } from "../../src/engine/types.ts";
import { assertConversationKept, runExample } from "../helpers/runExample.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** The Anthropic SDK examples, run as a user runs them (`node examples/x.ts`) against a real server. */
let server: TestServer;
const finished: FinishedRequest[] = [];
before(async () => {
  server = await startServer({ config: { inference: { context_length: 2048 } } });
  server.hearth.router.onFinished((r) => finished.push(r));
});
after(() => server.close());

const run = (example: string, args: string[] = [], stdin = "") => runExample(example, { HEARTH_URL: server.url, HEARTH_MODEL: "tiny" }, { args, stdin });

test("anthropic-chat: one reply per line of stdin, the conversation kept from turn to turn", async () => {
  finished.length = 0;
  const { code, out, err } = await run("anthropic-chat.ts", [], "Hello there\n\nAnd again\n");
  assert.equal(code, 0, err);
  const lines = out.split("\n").filter(Boolean);
  assert.equal(lines.length, 2, out);
  for (const line of lines) assert.match(line, /^assistant: /);
  assertConversationKept(finished);
});

test("anthropic-stream: the reply's text, then how it ended", async () => {
  const { code, out, err } = await run("anthropic-stream.ts", ["Write a haiku about the sea."]);
  assert.equal(code, 0, err);
  const m = /^([\s\S]+)\n\[(end_turn|max_tokens): (\d+) tokens\]\n$/.exec(out);
  assert.ok(m, out);
  assert.ok(Number(m[3]) >= 1);
});

test("anthropic-batch: one JSON line per prompt, in order", async () => {
  const prompts = ["Name a colour.", "Name a fruit.", "Name a river."];
  const { code, out, err } = await run("anthropic-batch.ts", prompts);
  assert.equal(code, 0, err);
  const answers = out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { prompt: string; text: string; stop_reason: string; output_tokens: number });
  assert.deepEqual(answers.map((a) => a.prompt), prompts);
  for (const a of answers) {
    assert.equal(typeof a.text, "string");
    assert.ok(["end_turn", "max_tokens"].includes(a.stop_reason));
    assert.ok(a.output_tokens >= 1);
  }
});
