import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { testModel } from "../helpers/models.ts";

/** Per-model template control: a replacement template file, a wrapper by name, template variable defaults; /v1/models shows what is in use. */
let server: TestServer;
let templateFile: string;
// A plain template with none of Llama 3's headers: its rendering is easy to count.
const TEMPLATE = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant] ";
// A template that reads `enable_thinking` in the assistant's turn.
const THINKING = "{% for m in messages %}[{{ m.role }}] {% if m.role == 'assistant' %}{% if enable_thinking is defined and enable_thinking == false %}(no thinking) {% else %}(thinking) {% endif %}{% endif %}{{ m.content }}\n{% endfor %}";
let thinkingFile: string;

before(async () => {
  templateFile = join(await mkdtemp(join(tmpdir(), "hearth-template-")), "plain.jinja");
  await writeFile(templateFile, TEMPLATE);
  thinkingFile = join(templateFile, "..", "thinking.jinja");
  await writeFile(thinkingFile, THINKING);
  const qwen = await testModel("qwen3");
  server = await startServer({
    modelPath: null,
    config: {
      inference: { context_length: 2048 },
      models: [
        { id: "qwen", path: qwen },
        { id: "qwen-quiet", path: qwen, chat_template_kwargs: { enable_thinking: false } },
        { id: "qwen-jinja", path: qwen, chat_wrapper: "jinja" },
        { id: "llama31", path: await testModel("llama3.1") },
        { id: "plain", path: await testModel("tiny-llama3"), chat_template: templateFile },
        { id: "thinking", path: await testModel("tiny-llama3"), chat_template: thinkingFile },
      ],
    },
  });
});
after(() => server.close());

const messages = [{ role: "user" as const, content: "Hi there" }];
const promptTokens = async (model: string, extra: object = {}) =>
  (await server.client.chat.completions.create({ model, messages, max_tokens: 1, temperature: 0, ...extra } as never)).usage!.prompt_tokens;
async function tokens(model: string, content: string): Promise<number> {
  const res = await fetch(`${server.url}/tokenize`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, content }) });
  return ((await res.json()) as { tokens: number[] }).tokens.length;
}
async function chatTemplate(model: string): Promise<unknown> {
  const res = await fetch(`${server.url}/v1/models/${model}`);
  return ((await res.json()) as { chat_template: unknown }).chat_template;
}

test("/v1/models shows each loaded model's family, what renders its prompts, from which template, and whether it reasons", async () => {
  for (const m of ["qwen", "qwen-jinja", "llama31", "plain"]) await promptTokens(m);
  assert.deepEqual(await chatTemplate("qwen"), { family: "Qwen", wrapper: "Qwen", source: "gguf", reasoning: true });
  assert.deepEqual(await chatTemplate("qwen-jinja"), { family: "Qwen", wrapper: "JinjaTemplate", source: "gguf", reasoning: true });
  assert.deepEqual(await chatTemplate("llama31"), { family: "Llama 3.1", wrapper: "JinjaTemplate", source: "gguf", reasoning: false });
  assert.deepEqual(await chatTemplate("plain"), { family: "JinjaTemplate", wrapper: "JinjaTemplate", source: "file", reasoning: false });
});

test("a chat_template file replaces the GGUF's template", async () => {
  // BOS, then the template's text.
  assert.equal(await promptTokens("plain"), 1 + await tokens("plain", "[user] Hi there\n[assistant] "));
});

test("chat_template_kwargs in the model's config are defaults a request's own override", async () => {
  const quiet = await promptTokens("qwen-quiet");
  assert.equal(quiet, await promptTokens("qwen", { chat_template_kwargs: { enable_thinking: false } }));
  assert.ok(quiet > await promptTokens("qwen"), "the closed thinking block is in the prompt");
  assert.equal(await promptTokens("qwen-quiet", { chat_template_kwargs: { enable_thinking: true } }), await promptTokens("qwen"));
});

test("enable_thinking reaches a template rendered as written (node-llama-cpp's Jinja wrapper sets it from its own option)", async () => {
  const on = await promptTokens("thinking");
  const off = await promptTokens("thinking", { chat_template_kwargs: { enable_thinking: false } });
  assert.notEqual(off, on, "the assistant's turn is rendered another way");
});

test("a chat_template file that does not exist stops the start, naming it", async () => {
  await assert.rejects(
    startServer({ modelPath: null, config: { models: [{ id: "x", path: await testModel("tiny-llama3"), chat_template: "/nonexistent/t.jinja" }] } }),
    /chat_template \/nonexistent\/t\.jinja does not exist/,
  );
});

test("an unknown chat_wrapper fails the model's load with the names it could be, and the server serves the others", async () => {
  const s = await startServer({ modelPath: null, config: { models: [{ id: "odd", path: await testModel("tiny-llama3"), chat_wrapper: "no-such-wrapper" }, { id: "fine", path: await testModel("tiny-llama3") }] } });
  try {
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "odd", messages: [{ role: "user", content: "Hi" }], max_tokens: 1 }) });
    const body = (await res.json()) as { error: { message: string } };
    assert.ok(res.status >= 500, String(res.status));
    assert.match(body.error.message, /chat_wrapper 'no-such-wrapper' is not one of auto, jinja, .*qwen/);
    assert.equal((await s.client.chat.completions.create({ model: "fine", messages: [{ role: "user", content: "Hi" }], max_tokens: 1 })).choices.length, 1);
  } finally {
    await s.close();
  }
});
