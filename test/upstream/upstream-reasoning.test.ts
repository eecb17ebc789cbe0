import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";

/**
 * Reasoning through an upstream, against a stand-in OpenAI-compatible server with a fixed answer:
 * its `reasoning_content` deltas (vLLM's, llama-server's) come out as Hearth's, apart from the
 * answer, with its reasoning token count; the request's reasoning options go to it. No model runs here.
 */
const THOUGHT = ["The user ", "wants a sum. ", "2 + 2 = 4."];
const ANSWER = ["It is ", "4."];

let upstream: Server;
let gateway: TestServer;
const received: Record<string, unknown>[] = [];

before(async () => {
  upstream = createServer((req, res) => {
    if (req.url === "/v1/models") return void res.end(JSON.stringify({ object: "list", data: [] }));
    let raw = "";
    req.on("data", (d: Buffer) => { raw += d.toString(); });
    req.on("end", () => {
      received.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(200, { "content-type": "text/event-stream" });
      const send = (chunk: object) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      for (const t of THOUGHT) send({ choices: [{ index: 0, delta: { reasoning_content: t }, finish_reason: null }] });
      for (const t of ANSWER) send({ choices: [{ index: 0, delta: { content: t }, finish_reason: null }] });
      send({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
      send({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, completion_tokens_details: { reasoning_tokens: 8 } } });
      res.end("data: [DONE]\n\n");
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const port = (upstream.address() as { port: number }).port;
  gateway = await startServer({ modelPath: null, config: { models: [{ id: "stand-in", upstreams: [{ url: `http://127.0.0.1:${port}/v1` }] }] } });
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
