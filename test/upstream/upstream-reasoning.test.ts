import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { standInUpstream } from "./standIn.ts";

/**
 * Reasoning through an upstream, against a stand-in OpenAI-compatible server with a fixed answer:
 * its `reasoning_content` deltas (vLLM's, llama-server's) come out as Hearth's, apart from the
 * answer, with its reasoning token count; the request's reasoning options go to it. No model runs here.
 */
const THOUGHT = ["The user ", "wants a sum. ", "2 + 2 = 4."];
const ANSWER = ["It is ", "4."];

let upstream: Server;
let gateway: TestServer;
let received: Record<string, unknown>[];

before(async () => {
  const standIn = await standInUpstream((_body, send) => {
    for (const t of THOUGHT) send({ choices: [{ index: 0, delta: { reasoning_content: t }, finish_reason: null }] });
    for (const t of ANSWER) send({ choices: [{ index: 0, delta: { content: t }, finish_reason: null }] });
    send({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
    send({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, completion_tokens_details: { reasoning_tokens: 8 } } });
  });
  ({ server: upstream, received } = standIn);
  gateway = await startServer({ modelPath: null, config: { models: [{ id: "stand-in", upstreams: [{ url: standIn.url }] }] } });
});
after(async () => {
  await gateway.close();
  upstream.close();
});

const ask = {
  model: "stand-in", messages: [{ role: "user" as const, content: "2 + 2?" }, { role: "assistant" as const, content: "Earlier.", reasoning_content: "An earlier thought." }, { role: "user" as const, content: "Again?" }],
  reasoning_effort: "high", chat_template_kwargs: { enable_thinking: true },
};

test("an upstream's reasoning comes back as reasoning_content with its token count, streamed and not", async () => {
  const whole = await gateway.client.chat.completions.create(ask as never) as never as { choices: { message: { content: string; reasoning_content?: string } }[]; usage: { completion_tokens_details?: { reasoning_tokens: number } } };
  assert.equal(whole.choices[0]!.message.content, ANSWER.join(""));
  assert.equal(whole.choices[0]!.message.reasoning_content, THOUGHT.join(""));
  assert.equal(whole.usage.completion_tokens_details?.reasoning_tokens, 8);

  let reasoning = "";
  let content = "";
  for await (const chunk of await gateway.client.chat.completions.create({ ...ask, stream: true } as never) as never as AsyncIterable<{ choices: { delta: { content?: string; reasoning_content?: string } }[] }>) {
    reasoning += chunk.choices[0]?.delta.reasoning_content ?? "";
    content += chunk.choices[0]?.delta.content ?? "";
  }
  assert.deepEqual({ reasoning, content }, { reasoning: THOUGHT.join(""), content: ANSWER.join("") });
});

test("the request's reasoning options and earlier reasoning go to the upstream", async () => {
  received.length = 0;
  await gateway.client.chat.completions.create(ask as never);
  const body = received[0]!;
  assert.equal(body.reasoning_effort, "high");
  assert.deepEqual(body.chat_template_kwargs, { enable_thinking: true });
  assert.equal((body.messages as { reasoning_content?: string }[])[1]!.reasoning_content, "An earlier thought.");
});
