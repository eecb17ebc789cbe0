import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { testModel } from "../helpers/models.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { tinyTextPromptTokens } from "../helpers/prompts.ts";

const ADMIN = "admin-key-for-embedding-tests";
let server: TestServer;
// The tiny preset with f16 weights: on the q8_0 file, llama.cpp's CPU kernels give inputs of 32
// tokens or more slightly different vectors from one evaluation to the next (see the report), which
// would make "the same input twice gives the same vector" flaky.
const modelPath = () => testModel("tiny", 7, "f16");
before(async () => { server = await startServer({ modelPath: await modelPath() }); });
after(() => server.close());

const cosine = (a: number[], b: number[]) => {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
  return dot / Math.sqrt(na * nb);
};

test("an embedding has OpenAI's shape and the model's width, and is the same twice", async () => {
  const input = "The quick brown fox";
  const a = await server.client.embeddings.create({ model: server.model, input });
  assert.equal(a.object, "list");
  assert.equal(a.model, server.model);
  assert.equal(a.data.length, 1);
  assert.deepEqual([a.data[0]!.object, a.data[0]!.index], ["embedding", 0]);
  assert.equal(a.data[0]!.embedding.length, 32, "the tiny preset's width");
  assert.ok(a.data[0]!.embedding.every(Number.isFinite));
  const b = await server.client.embeddings.create({ model: server.model, input, encoding_format: "float" });
  assert.deepEqual(b.data[0]!.embedding, a.data[0]!.embedding);
  assert.ok(Math.abs(cosine(a.data[0]!.embedding, b.data[0]!.embedding) - 1) < 1e-9);
  assert.ok(Math.abs(Math.hypot(...a.data[0]!.embedding) - 1) < 1e-6, "unit length");
});

test("different inputs give different vectors; a batch gives what one by one gives", async () => {
  const inputs = ["hello world", "a completely different sentence", "hello world!", "🦊 émoji"];
  const batch = await server.client.embeddings.create({ model: server.model, input: inputs });
  assert.deepEqual(batch.data.map((d) => d.index), [0, 1, 2, 3]);
  for (const [i, input] of inputs.entries()) {
    const one = await server.client.embeddings.create({ model: server.model, input });
    const a = one.data[0]!.embedding, b = batch.data[i]!.embedding;
    assert.ok(a.every((x, j) => Math.abs(x - b[j]!) < 1e-5), `input ${i} batched or alone`);
  }
  assert.ok(cosine(batch.data[0]!.embedding, batch.data[1]!.embedding) < 1 - 1e-6);
  assert.ok(cosine(batch.data[0]!.embedding, batch.data[2]!.embedding) < 1 - 1e-6);
});

test("usage counts the tokens evaluated; token-id inputs count their ids plus BOS", async () => {
  const inputs = ["Once upon a time", "ab"];
  const res = await server.client.embeddings.create({ model: server.model, input: inputs });
  const counted = inputs.reduce((n, s) => n + tinyTextPromptTokens(s), 0);
  assert.deepEqual([res.usage.prompt_tokens, res.usage.total_tokens], [counted, counted]);

  const ids = [...Buffer.from("Once upon a time", "utf8")];
  const one = await server.client.embeddings.create({ model: server.model, input: ids });
  assert.equal(one.data.length, 1);
  assert.equal(one.usage.prompt_tokens, tinyTextPromptTokens("Once upon a time"));
  const text = await server.client.embeddings.create({ model: server.model, input: "Once upon a time" });
  assert.ok(one.data[0]!.embedding.every((x, j) => Math.abs(x - text.data[0]!.embedding[j]!) < 1e-5), "the same tokens as text or ids");

  const many = await server.client.embeddings.create({ model: server.model, input: [ids, [104, 105]] });
  assert.equal(many.data.length, 2);
  assert.equal(many.usage.prompt_tokens, ids.length + 1 + 3);
});

test("base64 is the little-endian float32 bytes of the same vector", async () => {
  const input = ["base sixty-four", "second"];
  const floats = await post(`${server.url}/v1/embeddings`, { model: server.model, input });
  const b64 = await post(`${server.url}/v1/embeddings`, { model: server.model, input, encoding_format: "base64" });
  assert.equal(b64.status, 200);
  const data = b64.json.data as { embedding: string }[];
  for (const [i, d] of data.entries()) {
    assert.equal(typeof d.embedding, "string");
    const buf = Buffer.from(d.embedding, "base64");
    const decoded = Array.from({ length: buf.length / 4 }, (_, j) => buf.readFloatLE(j * 4));
    const expected = (floats.json.data as { embedding: number[] }[])[i]!.embedding;
    assert.equal(decoded.length, 32);
    assert.ok(decoded.every((x, j) => Math.abs(x - expected[j]!) < 1e-6));
  }
  // The SDK asks for base64 by default when no format is given and decodes it itself.
  const sdk = await server.client.embeddings.create({ model: server.model, input: "base sixty-four" });
  const expected = (floats.json.data as { embedding: number[] }[])[0]!.embedding;
  assert.deepEqual(sdk.data[0]!.embedding, expected, "float32 values: exactly the same either way");
});

test("dimensions: the model's own width is accepted, any other refused", async () => {
  const ok = await post(`${server.url}/v1/embeddings`, { model: server.model, input: "x", dimensions: 32 });
  assert.equal(ok.status, 200);
  const bad = await post(`${server.url}/v1/embeddings`, { model: server.model, input: "x", dimensions: 16 });
  assert.equal(bad.status, 400);
  assert.deepEqual([bad.json.error?.code, bad.json.error?.param], ["unsupported_parameter", "dimensions"]);
});

test("bad inputs and caps get a 400 naming the parameter, and the server keeps serving", async () => {
  const url = `${server.url}/v1/embeddings`;
  const cases: [unknown, string][] = [
    [{ model: server.model, input: "" }, "input"],
    [{ model: server.model, input: ["fine", ""] }, "input[1]"],
    [{ model: server.model, input: [] }, "input"],
    [{ model: server.model, input: [[1, 2], []] }, "input[1]"],
    [{ model: server.model, input: [5, 100000] }, "input"],
    [{ model: server.model, input: [[5], [1, 999]] }, "input[1]"],
    [{ model: server.model, input: "x".repeat(1024) }, "input"],
    [{ model: server.model, input: Array.from({ length: 2049 }, () => "a") }, "input"],
    [{ model: server.model, input: 42 }, "input"],
    [{ model: server.model, input: "x", encoding_format: "binary" }, "encoding_format"],
    [{ input: "x" }, "model"],
  ];
  for (const [body, param] of cases) {
    const res = await post(url, body);
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    assert.equal(res.json.error?.type, "invalid_request_error");
    assert.equal(res.json.error?.param, param, JSON.stringify(body).slice(0, 80));
  }
  const long = await post(url, { model: server.model, input: "x".repeat(1024) });
  assert.equal(long.json.error?.code, "context_length_exceeded");
  const fits = await post(url, { model: server.model, input: "x".repeat(1021) });
  assert.equal(fits.status, 200, "BOS plus 1021 bytes: one less than the context");
  const unknown = await post(url, { model: "nope", input: "x" });
  assert.deepEqual([unknown.status, unknown.json.error?.code], [404, "model_not_found"]);
  const still = await server.client.embeddings.create({ model: server.model, input: "still here" });
  assert.equal(still.data[0]!.embedding.length, 32);
  const chat = await server.client.completions.create({ model: server.model, prompt: "hi", max_tokens: 2 });
  assert.equal(chat.usage?.completion_tokens, 2, "generation works alongside embeddings");
});

test("/tokenize and /detokenize round-trip, with pieces and special tokens", async () => {
  const content = "Hello, wörld";
  const plain = await post(`${server.url}/tokenize`, { content });
  assert.equal(plain.status, 200);
  const tokens = plain.json.tokens as number[];
  assert.deepEqual(tokens, [...Buffer.from(content, "utf8")], "one token per byte, no BOS by default");
  const special = await post(`${server.url}/tokenize`, { model: "tiny", content, add_special: true });
  assert.equal((special.json.tokens as number[]).length, tokens.length + 1, "BOS added");
  const pieces = await post(`${server.url}/tokenize`, { content: "Hi", with_pieces: true });
  assert.deepEqual(pieces.json.tokens, [{ id: 72, piece: "H" }, { id: 105, piece: "i" }]);
  const back = await post(`${server.url}/detokenize`, { tokens });
  assert.deepEqual([back.status, back.json.content], [200, content]);
  const withBos = await post(`${server.url}/detokenize`, { model: "tiny", tokens: special.json.tokens });
  assert.ok((withBos.json.content as string).endsWith(content));
  const bad = await post(`${server.url}/detokenize`, { tokens: [1, 99999] });
  assert.deepEqual([bad.status, bad.json.error?.param], [400, "tokens"]);
  const missing = await post(`${server.url}/tokenize`, {});
  assert.deepEqual([missing.status, missing.json.error?.param], [400, "content"]);
  const unknown = await post(`${server.url}/tokenize`, { model: "nope", content: "x" });
  assert.equal(unknown.status, 404);
});

test("the routes are in /openapi.json", async () => {
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  for (const path of ["/v1/embeddings", "/tokenize", "/detokenize"]) assert.ok(doc.paths[path], path);
});

test("with auth required, a key limited to other models gets 403 on all three routes, and none gets 401", async () => {
  const secured = await startServer({ modelPath: await modelPath(), config: { auth: "required", admin_key: ADMIN } });
  try {
    const created = await post(`${secured.url}/v1/admin/keys`, { name: "limited", models: ["other"] }, { "content-type": "application/json", authorization: `Bearer ${ADMIN}` });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const key = created.json.key as string;
    const auth = { "content-type": "application/json", authorization: `Bearer ${key}` };
    const noKey = { "content-type": "application/json" };
    for (const [path, body] of [["/v1/embeddings", { model: "tiny", input: "x" }], ["/tokenize", { content: "x" }], ["/detokenize", { tokens: [72] }]] as const) {
      const anonymous = await post(`${secured.url}${path}`, body, noKey);
      assert.equal(anonymous.status, 401, path);
      const limited = await post(`${secured.url}${path}`, body, auth);
      assert.deepEqual([limited.status, limited.json.error?.code], [403, "model_not_allowed"], path);
      const admin = await post(`${secured.url}${path}`, body, { ...noKey, authorization: `Bearer ${ADMIN}` });
      assert.equal(admin.status, 200, path);
    }
  } finally {
    await secured.close();
  }
});
