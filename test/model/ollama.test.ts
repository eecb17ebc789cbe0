import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { Ajv } from "ajv";
import { Ollama, type ChatResponse, type EmbeddingsResponse, type EmbedResponse, type GenerateResponse, type ModelResponse, type ProgressResponse, type ShowResponse, type VersionResponse } from "ollama";
import type { Static, TObject } from "typebox";
import { Value } from "typebox/value";
import * as wire from "../../src/wire/ollama.ts";
import { testModel } from "../helpers/models.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { startServer as startFileServer, type TestServer as FileServer } from "../pull/fixtures.ts";

/**
 * Ollama's API on real llama.cpp, through the official `ollama` client unchanged: chat and generate
 * (streamed and not, raw, JSON schemas), tools on the Llama 3.1 preset, thinking on Qwen3,
 * embeddings, the model listings, pull (from a local server, and a local stand-in for the Hugging
 * Face hub), delete, and unloading with keep_alive 0.
 *
 * Conformance: Ollama publishes no JSON schema. Each answer is checked against Hearth's wire schema
 * (src/wire/ollama.ts: no field missing, none unknown, each of its type), and that schema's type is
 * checked, by tsc, against ollama-js's own types (ChatResponse, GenerateResponse, ...) at the end of
 * this file, with the differences each named there.
 */
let tiny: TestServer;
let llama: TestServer;
let qwen: TestServer;
let files: FileServer;
before(async () => {
  tiny = await startServer({ config: { pull: { allow_private_addresses: true } } });
  llama = await startServer({ modelPath: await testModel("llama3.1"), config: { inference: { context_length: 2048 } } });
  qwen = await startServer({ modelPath: await testModel("qwen3"), config: { inference: { context_length: 2048 } } });
  files = await startFileServer();
});
after(async () => {
  await Promise.all([tiny.close(), llama.close(), qwen.close(), files.close()]);
});

const client = (s: TestServer) => new Ollama({ host: s.url });
const user = (content: string) => [{ role: "user", content }];

/** An answer is exactly of its wire schema: every field it requires, each of its type, no other field. */
function conforms<T extends TObject>(schema: T, value: unknown): Static<T> {
  assert.ok(Value.Check(schema, value), `${JSON.stringify(value).slice(0, 400)}: ${JSON.stringify([...Value.Errors(schema, value)].slice(0, 3))}`);
  const unknown = Object.keys(value as object).filter((k) => !(k in schema.properties));
  assert.deepEqual(unknown, [], "fields the schema does not name");
  return value as Static<T>;
}

/** What a stream of chat objects adds up to, and its last object. */
async function collect(stream: AsyncIterable<ChatResponse>) {
  let content = "";
  let thinking = "";
  const calls: ChatResponse["message"]["tool_calls"] = [];
  let last: ChatResponse | undefined;
  for await (const piece of stream) {
    conforms(wire.OllamaChatResponse, piece);
    content += piece.message.content;
    thinking += piece.message.thinking ?? "";
    calls.push(...piece.message.tool_calls ?? []);
    last = piece;
  }
  return { content, thinking, calls, last: last! };
}

test("chat: the streamed reply is the unstreamed one for the same seed, its last object has the figures", async () => {
  const request = { model: "tiny", messages: user("Tell me a story"), options: { temperature: 1, seed: 42, num_predict: 12 } };
  const whole = conforms(wire.OllamaChatResponse, await client(tiny).chat(request));
  const streamed = await collect(await client(tiny).chat({ ...request, stream: true }));
  assert.equal(streamed.content, whole.message.content);
  assert.ok(whole.message.content.length > 0);
  for (const r of [whole, streamed.last]) {
    assert.equal(r.done, true);
    assert.equal(r.done_reason, "length");
    assert.equal(r.eval_count, 12);
    assert.ok(r.prompt_eval_count! > 0 && r.total_duration! >= r.eval_duration! && r.eval_duration! > 0, JSON.stringify(r));
  }
  assert.equal(streamed.last.message.content, "");
});

test("generate goes through the chat template as the OpenAI chat route does; raw is the text prompt of /v1/completions", async () => {
  const options = { temperature: 0, num_predict: 8 };
  const templated = conforms(wire.OllamaGenerateResponse, await client(tiny).generate({ model: "tiny", system: "Be brief.", prompt: "Hello", options }));
  const chat = await tiny.client.chat.completions.create({ model: "tiny", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }], temperature: 0, max_tokens: 8 });
  assert.equal(templated.response, chat.choices[0]!.message.content);
  assert.equal(templated.prompt_eval_count, chat.usage!.prompt_tokens);
  const raw = conforms(wire.OllamaGenerateResponse, await client(tiny).generate({ model: "tiny", prompt: "Once upon a time", raw: true, options }));
  const completion = await tiny.client.completions.create({ model: "tiny", prompt: "Once upon a time", temperature: 0, max_tokens: 8 });
  assert.equal(raw.response, completion.choices[0]!.text);
  assert.equal(raw.prompt_eval_count, completion.usage!.prompt_tokens);
  let streamed = "";
  for await (const piece of await client(tiny).generate({ model: "tiny", prompt: "Once upon a time", raw: true, options, stream: true })) streamed += conforms(wire.OllamaGenerateResponse, piece).response;
  assert.equal(streamed, raw.response);
});

test("format: a JSON schema's answer parses and validates, streamed or not; 'json' is JSON", async () => {
  const schema = { type: "object", properties: { name: { type: "string", maxLength: 8 }, age: { type: "integer", minimum: 0, maximum: 120 } }, required: ["name", "age"], additionalProperties: false };
  const validate = new Ajv().compile(schema);
  for (let seed = 1; seed <= 3; seed++) {
    const request = { model: "tiny", messages: user("Who?"), format: schema, options: { temperature: 1, seed, num_predict: 60 } };
    const whole = await client(tiny).chat(request);
    assert.equal(whole.done_reason, "stop");
    assert.ok(validate(JSON.parse(whole.message.content)), whole.message.content);
    assert.equal((await collect(await client(tiny).chat({ ...request, stream: true }))).content, whole.message.content);
  }
  const json = await client(tiny).generate({ model: "tiny", prompt: "x", format: "json", options: { temperature: 1, seed: 3, num_predict: 400 } });
  assert.equal(json.done_reason, "stop");
  JSON.parse(json.response ?? "");
});

const weather = { type: "object", properties: { city: { enum: ["oslo", "rome"] }, days: { type: "integer", minimum: 1, maximum: 7 } }, required: ["city", "days"], additionalProperties: false };
const tools = [{ type: "function", function: { name: "get_weather", description: "The weather in a city.", parameters: weather } }];

test("tools (Llama 3.1): a call comes back as message.tool_calls with an arguments object, streamed as not; its result goes back by tool_name", async () => {
  const validate = new Ajv().compile(weather);
  // Random weights never start a call: the prefill starts the template's JSON call; the grammar writes the rest.
  const messages = [...user("Weather in Oslo for 3 days?"), { role: "assistant", content: '{"name": "' }];
  const request = { model: "tiny", messages, tools, options: { temperature: 1, seed: 2, num_predict: 80 } };
  const whole = conforms(wire.OllamaChatResponse, await client(llama).chat(request));
  const call = whole.message.tool_calls?.[0];
  assert.ok(call, JSON.stringify(whole.message));
  assert.equal(call.function.name, "get_weather");
  assert.ok(validate(call.function.arguments), JSON.stringify(call.function.arguments));
  assert.equal(whole.done_reason, "stop");
  const streamed = await collect(await client(llama).chat({ ...request, stream: true }));
  assert.deepEqual(streamed.calls, whole.message.tool_calls);
  const next = async (result: string) => (await client(llama).chat({
    model: "tiny", tools, options: { num_predict: 1, temperature: 0 },
    messages: [...user("Weather in Oslo for 3 days?"), { role: "assistant", content: "", tool_calls: [call] }, { role: "tool", tool_name: "get_weather", content: result }],
  })).prompt_eval_count!;
  assert.ok(await next('{"forecast": "sunny, sunny, sunny and then more sun"}') > await next('{"forecast": "sunny"}'));
});

test("think (Qwen3): the reasoning comes back as message.thinking apart from the content; think false closes the thinking block in the prompt", async () => {
  // Random weights never open a thinking block: an assistant prefill with thinking and no content is continued as reasoning.
  const messages = [...user("What is 2 + 2?"), { role: "assistant", content: "", thinking: "Let me think." }];
  const request = { model: "tiny", messages, think: true, options: { temperature: 1, seed: 4, num_predict: 10 } };
  const whole = await client(qwen).chat(request);
  assert.ok(whole.message.thinking && whole.message.thinking.length > 0, JSON.stringify(whole.message));
  assert.doesNotMatch(whole.message.thinking, /<\/?think>/);
  const streamed = await collect(await client(qwen).chat({ ...request, stream: true }));
  assert.deepEqual([streamed.thinking, streamed.content], [whole.message.thinking, whole.message.content]);
  const prompt = async (think: boolean) => (await client(qwen).chat({ model: "tiny", messages: user("What is 2 + 2?"), think, options: { num_predict: 1, temperature: 0 } })).prompt_eval_count!;
  const block = (await post(`${qwen.url}/tokenize`, { model: "tiny", content: "<think>\n\n</think>\n\n" })).json.tokens as number[];
  assert.equal(await prompt(false) - await prompt(true), block.length);
});

test("embed and embeddings: the vectors of /v1/embeddings; an input longer than the context is cut unless truncate is false", async () => {
  const inputs = ["The sky is blue.", "Grass is green."];
  const embedded = conforms(wire.OllamaEmbedResponse, await client(tiny).embed({ model: "tiny:latest", input: inputs }));
  const openai = await tiny.client.embeddings.create({ model: "tiny", input: inputs });
  assert.deepEqual(embedded.embeddings, openai.data.map((d) => d.embedding));
  assert.equal(embedded.prompt_eval_count, openai.usage.prompt_tokens);
  assert.equal(embedded.model, "tiny:latest");
  const single = conforms(wire.OllamaEmbeddingsResponse, await client(tiny).embeddings({ model: "tiny", prompt: inputs[0]! }));
  assert.deepEqual(single.embedding, embedded.embeddings[0]);
  const long = "word ".repeat(2000);
  assert.equal((await client(tiny).embed({ model: "tiny", input: long })).embeddings[0]!.length, embedded.embeddings[0]!.length);
  await assert.rejects(client(tiny).embed({ model: "tiny", input: long, truncate: false }), (e: { status_code?: number; error?: string }) => e.status_code === 400 && /context/.test(e.error ?? ""));
});

test("tags, show and ps describe the model from its GGUF header; keep_alive 0 unloads it and an empty request loads it again", async () => {
  const listed = conforms(wire.OllamaModelList, await client(tiny).list());
  const model = listed.models.find((m) => m.name === "tiny:latest");
  assert.ok(model, JSON.stringify(listed));
  conforms(wire.OllamaModel, model);
  assert.deepEqual(model.details, { parent_model: "", format: "gguf", family: "llama", families: ["llama"], parameter_size: "64K", quantization_level: "Q8_0" });
  assert.equal(model.size, (await readFile(await testModel("tiny"))).length);
  assert.match(model.digest, /^[0-9a-f]{64}$/);
  const shown = conforms(wire.OllamaShowResponse, await client(tiny).show({ model: "tiny" }));
  assert.deepEqual(shown.details, model.details);
  assert.equal((shown.model_info as Record<string, unknown>)["general.architecture"], "llama");
  assert.equal((shown.model_info as Record<string, unknown>)["llama.context_length"], 4096);
  assert.ok(shown.capabilities.includes("completion"));
  assert.ok(!shown.modelfile.includes("/"), "no path");

  const running = conforms(wire.OllamaModelList, await client(tiny).ps());
  assert.deepEqual(running.models.map((m) => m.name), ["tiny:latest"]);
  assert.ok(running.models[0]!.size > 0 && running.models[0]!.context_length === 1024);
  const unloaded = await client(tiny).generate({ model: "tiny", prompt: "", keep_alive: 0 });
  assert.equal(unloaded.done_reason, "unload");
  assert.deepEqual((await client(tiny).ps()).models, []);
  const loaded = await client(tiny).chat({ model: "tiny:latest", messages: [] });
  assert.equal(loaded.done_reason, "load");
  const again = (await client(tiny).ps()).models;
  assert.deepEqual(again.map((m) => m.name), ["tiny:latest"]);
  assert.equal(again[0]!.expires_at, "9999-12-31T23:59:59Z", "a pinned model has no unload time");
  assert.equal(conforms(wire.OllamaVersion, await client(tiny).version()).version, "0.12.0");
});

test("pull: a GGUF URL with NDJSON progress, an hf.co/owner/repo:QUANT name through the hub's listing, both served under their names; delete removes a pulled model only", async () => {
  const body = await readFile(await testModel("tiny"));
  files.routes.set("/files/story.gguf", { kind: "file", body });
  const progress: wire.OllamaProgress[] = [];
  for await (const line of await client(tiny).pull({ model: `${files.url}/files/story.gguf`, stream: true })) progress.push(conforms(wire.OllamaProgress, line));
  assert.equal(progress[0]!.status, "pulling manifest");
  assert.equal(progress.at(-1)!.status, "success");
  const downloading = progress.filter((p) => p.total !== undefined);
  assert.ok(downloading.length > 0 && downloading.at(-1)!.completed === body.length && downloading.at(-1)!.total === body.length, JSON.stringify(progress));
  assert.ok((await client(tiny).list()).models.some((m) => m.name === "story:latest"));

  // The hub's API lists the repository's files; the file of the asked quantization is pulled.
  files.routes.set("/api/models/owner/story-GGUF", { kind: "file", body: Buffer.from(JSON.stringify({ siblings: [{ rfilename: "story-Q4_K_M.gguf" }, { rfilename: "story-Q8_0.gguf" }, { rfilename: "README.md" }] })), headers: { "content-type": "application/json" } });
  files.routes.set("/owner/story-GGUF/resolve/main/story-Q8_0.gguf", { kind: "file", body });
  const previous = process.env.HF_ENDPOINT;
  process.env.HF_ENDPOINT = files.url;
  try {
    assert.deepEqual(await client(tiny).pull({ model: "hf.co/owner/story-GGUF:Q8_0" }), { status: "success" });
    await assert.rejects(client(tiny).pull({ model: "hf.co/owner/story-GGUF:Q5_K_S" }), (e: { status_code?: number; error?: string }) => e.status_code === 404 && /story-Q4_K_M\.gguf, story-Q8_0\.gguf/.test(e.error ?? ""));
  } finally {
    if (previous === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = previous;
  }
  const name = "hf.co/owner/story-GGUF:Q8_0";
  assert.ok((await client(tiny).list()).models.some((m) => m.name === name));
  assert.equal((await client(tiny).show({ model: name })).details.quantization_level, "Q8_0");
  assert.equal((await client(tiny).generate({ model: name, prompt: "x", keep_alive: "10m", options: { num_predict: 1 } })).eval_count, 1);
  const expires = Date.parse(String((await client(tiny).ps()).models.find((m) => m.name === name)?.expires_at)) - Date.now();
  assert.ok(expires > 9 * 60_000 && expires <= 10 * 60_000, `unloaded in ${expires} ms`);

  for (const pulled of [name, "story"]) await client(tiny).delete({ model: pulled });
  assert.deepEqual((await client(tiny).list()).models.map((m) => m.name), ["tiny:latest"]);
  await assert.rejects(client(tiny).delete({ model: "tiny" }), (e: { status_code?: number }) => e.status_code === 409);
});

/**
 * Compile-time conformance with ollama-js 0.6.4's types. ollama-js types JSON times as Date and
 * JSON objects as Map: on the wire both are what JSON carries (strings, objects). Named differences:
 * - the figures (done_reason, durations, counts) are in the last object only, as Ollama sends them;
 * - GenerateResponse's `context` (deprecated) is not sent: /api/generate refuses it too;
 * - /api/tags sends no `expires_at` or `size_vram` (Ollama's own does not): /api/ps does;
 * - ShowResponse's `messages` (a Modelfile's MESSAGE lines) is not sent: Hearth has no Modelfiles;
 * - a pull's progress lines other than the download's have no digest, total or completed.
 */
type OnTheWire<T> = T extends Date ? string : T extends Map<string, infer V> ? Record<string, V> : T extends readonly (infer U)[] ? OnTheWire<U>[] : T extends object ? { [K in keyof T]: OnTheWire<T[K]> } : T;
type Conforms<Ours, Theirs> = [Ours] extends [OnTheWire<Theirs>] ? true : false;
type Last<T> = T & Required<Pick<T, Extract<keyof T, "done_reason" | "total_duration" | "load_duration" | "prompt_eval_count" | "prompt_eval_duration" | "eval_count" | "eval_duration">>>;
type Running = wire.OllamaModel & Required<Pick<wire.OllamaModel, "expires_at" | "size_vram">>;
export const conformance: [
  Conforms<Last<wire.OllamaChatResponse>, ChatResponse>,
  Conforms<Last<wire.OllamaGenerateResponse>, Omit<GenerateResponse, "context">>,
  Conforms<Static<typeof wire.OllamaEmbedResponse>, EmbedResponse>,
  Conforms<Static<typeof wire.OllamaEmbeddingsResponse>, EmbeddingsResponse>,
  Conforms<wire.OllamaModel, Omit<ModelResponse, "expires_at" | "size_vram">>,
  Conforms<Running, ModelResponse>,
  Conforms<wire.OllamaShowResponse, Omit<ShowResponse, "messages">>,
  Conforms<wire.OllamaProgress, Pick<ProgressResponse, "status"> & Partial<ProgressResponse>>,
  Conforms<Static<typeof wire.OllamaVersion>, VersionResponse>,
] = [true, true, true, true, true, true, true, true, true];
