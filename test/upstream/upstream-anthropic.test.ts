import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { startServer, type TestServer } from "../helpers/server.ts";
import { standInUpstream } from "./standIn.ts";

/**
 * The Messages API over a model served by an upstream (a stand-in with a fixed answer): which stop
 * sequence ended the answer comes from the upstream where it says (vLLM's `stop_reason`), and
 * count_tokens is refused, as Hearth cannot render the upstream's template. No model runs here.
 */
let upstream: Server;
let gateway: TestServer;

before(async () => {
  const standIn = await standInUpstream((body, send) => {
    send({ choices: [{ index: 0, delta: { content: "Four" }, finish_reason: null }] });
    // As vLLM: the stop string that matched, when the request had one.
    const stop = (body.stop as string[] | undefined)?.at(-1);
    send({ choices: [{ index: 0, delta: {}, finish_reason: "stop", ...(stop ? { stop_reason: stop } : {}) }] });
  });
  upstream = standIn.server;
  gateway = await startServer({ modelPath: null, config: { models: [{ id: "stand-in", upstreams: [{ url: standIn.url }] }] } });
});
after(async () => {
  await gateway.close();
  upstream.close();
});

const client = () => new Anthropic({ baseURL: gateway.url, apiKey: "none", maxRetries: 0 });
const messages: Anthropic.MessageParam[] = [{ role: "user", content: "2 + 2?" }];

test("the stop sequence an upstream names ends the Message as stop_sequence; without one it is end_turn", async () => {
  const stopped = await client().messages.create({ model: "stand-in", max_tokens: 8, messages, stop_sequences: ["\n", "."] });
  assert.deepEqual([stopped.stop_reason, stopped.stop_sequence], ["stop_sequence", "."]);
  const ended = await client().messages.create({ model: "stand-in", max_tokens: 8, messages });
  assert.deepEqual([ended.stop_reason, ended.stop_sequence], ["end_turn", null]);
  assert.deepEqual(ended.content, [{ type: "text", text: "Four", citations: null }]);
});

test("count_tokens on an upstream model is a 400 that says why", async () => {
  const err = await client().messages.countTokens({ model: "stand-in", messages }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof Anthropic.BadRequestError);
  assert.match(err.message, /cannot count its prompt tokens exactly/);
});
