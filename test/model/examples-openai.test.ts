import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FinishedRequest } from "../../src/engine/types.ts";
import { assertConversationKept, runExample } from "../helpers/runExample.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** The OpenAI SDK examples in examples/, run as a user runs them, against a real Hearth. */
let server: TestServer;
const finished: FinishedRequest[] = [];
before(async () => {
  server = await startServer();
  server.hearth.router.onFinished((r) => finished.push(r));
});
after(() => server.close());

const run = (script: string, stdin: string, args: string[] = []) => runExample(script, { HEARTH_URL: server.url, HEARTH_MODEL: server.model, HEARTH_MAX_TOKENS: "6" }, { args, stdin });

test("openai-chat.ts: one answer per line typed, the conversation kept by the server (previous_response_id)", async () => {
  finished.length = 0;
  const { code, out, err } = await run("openai-chat.ts", "Hello\nAnd then?\n");
  assert.equal(code, 0, err);
  assert.equal(out.split("\n").filter((l) => l.startsWith("assistant: ")).length, 2, out);
  assertConversationKept(finished);
  assert.equal(finished[0]!.route, "/v1/responses");
});

test("openai-stream.ts: the reply streamed to stdout, its usage on stderr", async () => {
  const { code, out, err } = await run("openai-stream.ts", "", ["Tell me about hearths"]);
  assert.equal(code, 0, err);
  assert.ok(out.trim().length > 0);
  assert.match(err, /\[\d+ prompt \+ 6 completion tokens\]/);
});

test("openai-batch.ts: one JSON line per prompt, in order", async () => {
  const prompts = ["What is a hearth?", "What is a flue?", "What is a chimney?"];
  const { code, out, err } = await run("openai-batch.ts", `${prompts.join("\n")}\n`);
  assert.equal(code, 0, err);
  const answers = out.trim().split("\n").map((l) => JSON.parse(l) as { prompt: string; answer: string; tokens: number });
  assert.deepEqual(answers.map((a) => a.prompt), prompts);
  for (const a of answers) assert.equal(a.tokens, 6);
});
