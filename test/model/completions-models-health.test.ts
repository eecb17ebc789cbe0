import assert from "node:assert/strict";
import { mkdtemp, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { testModel } from "../helpers/models.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { tinyTextPromptTokens } from "../helpers/prompts.ts";

let server: TestServer;
before(async () => { server = await startServer(); });
after(() => server.close());

test("a text completion has OpenAI's shape and counts BOS plus one token per byte", async () => {
  const prompt = "Once upon a time";
  const res = await server.client.completions.create({ model: server.model, prompt, max_tokens: 7, temperature: 0 });
  assert.match(res.id, /^cmpl-/);
  assert.equal(res.object, "text_completion");
  assert.equal(res.choices[0]!.finish_reason, "length");
  assert.equal(typeof res.choices[0]!.text, "string");
  assert.deepEqual([res.usage?.prompt_tokens, res.usage?.completion_tokens], [tinyTextPromptTokens(prompt), 7]);

  const stream = await server.client.completions.create({ model: server.model, prompt, max_tokens: 7, temperature: 0, stream: true });
  let text = "";
  const finishes = [];
  for await (const c of stream) {
    assert.equal(c.object, "text_completion");
    text += c.choices[0]?.text ?? "";
    if (c.choices[0]?.finish_reason) finishes.push(c.choices[0].finish_reason);
  }
  assert.equal(text, res.choices[0]!.text);
  assert.deepEqual(finishes, ["length"]);
});

test("a completion prompt may be token ids", async () => {
  const ids = [...Buffer.from("Once upon a time", "utf8")];
  const res = await server.client.completions.create({ model: server.model, prompt: ids, max_tokens: 3, temperature: 0 });
  assert.equal(res.usage?.prompt_tokens, ids.length);
});

test("/v1/models lists the served model the way OpenAI does", async () => {
  const page = await server.client.models.list();
  assert.deepEqual(page.data.map((m) => [m.id, m.object, m.owned_by]), [["tiny", "model", "hearth"]]);
  const one = (await server.client.models.retrieve("tiny")) as unknown as Record<string, unknown>;
  assert.equal(one.id, "tiny");
  assert.equal(one.state, "loaded");
  assert.equal(one.size_bytes, (await stat(await testModel("tiny"))).size);
  assert.ok((one.memory_estimate_bytes as number) > 0 && (one.memory_bytes as number) > 0);
  assert.deepEqual([one.aliases, one.pinned], [[], true]);
  const missing = await fetch(`${server.url}/v1/models/nope`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "model_not_found");
});

test("/health says loading until the pinned model is ready, then ok with memory and models; a request does not wait for it", async () => {
  const fresh = await startServer({ load: false });
  try {
    const loading = await fetch(`${fresh.url}/health`);
    assert.equal(loading.status, 503);
    assert.deepEqual(await loading.json(), { status: "loading" });
    const early = await fresh.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
    assert.equal(early.usage?.completion_tokens, 2, "the first request loads the model itself");
    const ready = await fetch(`${fresh.url}/health`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as Record<string, unknown> & { memory: { used_bytes: number; budget_bytes: number; free_bytes: number }; models: { id: string; state: string; memory_bytes: number }[]; cpu: { server_percent: number; cores: number } };
    assert.deepEqual([body.status, body.queue_depth, body.slots_busy, body.slots_total], ["ok", 0, 0, 2]);
    assert.ok(body.memory.used_bytes > 0 && body.memory.used_bytes + body.memory.free_bytes === body.memory.budget_bytes);
    assert.deepEqual(body.models.map((m) => [m.id, m.state]), [["tiny", "loaded"]]);
    assert.ok(body.models[0]!.memory_bytes > 50e6, "a runner's resident memory");
    assert.ok(body.cpu.server_percent >= 0 && body.cpu.cores >= 1);
  } finally {
    await fresh.close();
  }
});

test("a file that is not a model gives health 'error' and 503s naming only the file, not its path", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-bad-"));
  const path = join(dir, "broken.gguf");
  await writeFile(path, Buffer.from("GGUF\x03\x00\x00\x00 truncated"));
  const bad = await startServer({ modelPath: path });
  try {
    const health = await fetch(`${bad.url}/health`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { status: string; error: string };
    assert.equal(body.status, "error");
    const res = await fetch(`${bad.url}/v1/chat/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 503);
    const text = await res.text();
    assert.match(text, /model_load_failed/);
    assert.ok(!text.includes(dir) && !JSON.stringify(body).includes(dir), "no absolute path leaks");
  } finally {
    await bad.close();
  }
});

test("the request schemas are published as an OpenAPI document", async () => {
  const res = await fetch(`${server.url}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: { required?: string[]; properties: Record<string, unknown> } }> } } }> };
  assert.match(doc.openapi, /^3\./);
  const chat = doc.paths["/v1/chat/completions"]?.post?.requestBody?.content["application/json"]?.schema;
  assert.deepEqual(chat?.required?.sort(), ["messages", "model"]);
  assert.ok(chat?.properties.temperature && chat.properties.stop);
  assert.ok(doc.paths["/v1/completions"]?.post);
});

test("the response schemas are in the OpenAPI document too", async () => {
  type Responses = Record<string, { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }>;
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses?: Responses }>> };
  const json = (path: string, method: string, status = "200") => doc.paths[path]?.[method]?.responses?.[status]?.content?.["application/json"]?.schema;
  assert.ok(json("/v1/models", "get")?.properties?.data, "GET /v1/models");
  assert.ok(json("/v1/models/{id}", "get")?.properties?.memory_bytes, "GET /v1/models/{id}");
  assert.ok(json("/v1/conversations", "get")?.properties?.has_more, "GET /v1/conversations");
  assert.ok(json("/v1/conversations", "post", "201")?.properties?.messages, "POST /v1/conversations");
  assert.ok(json("/v1/usage", "get")?.properties?.data, "GET /v1/usage");
  assert.ok(json("/v1/chat/completions", "post")?.properties?.choices, "POST /v1/chat/completions");
  assert.ok(doc.paths["/v1/chat/completions"]?.post?.responses?.["200"]?.content?.["text/event-stream"]?.schema, "its stream's chunks");
  assert.ok(doc.paths["/v1/models/events"]?.get?.responses?.["200"]?.content?.["text/event-stream"]?.schema, "GET /v1/models/events");
});
