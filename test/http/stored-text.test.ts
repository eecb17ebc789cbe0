import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { post, startServer, type TestServer } from "../helpers/server.ts";

// PostgreSQL text cannot hold U+0000 and UTF-8 cannot encode a lone surrogate: fields that end up
// in the database (the usage log, API keys) are refused at validation, naming the field, rather
// than failing later in the store.
const ADMIN = "admin-key-for-stored-text-tests";
let server: TestServer;
const auth = { "content-type": "application/json", authorization: `Bearer ${ADMIN}` };
before(async () => { server = await startServer({ fake: true, config: { auth: "required", admin_key: ADMIN } }); });
after(() => server.close());

const chat = { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 1 };
const bad = ["u\u0000", "\ud800", "a\udc00b"];

async function expectRefused(path: string, body: object, param: string) {
  // JSON.stringify writes lone surrogates as \ud800 escapes, which is how a client sends them.
  const res = await post(`${server.url}${path}`, body, auth);
  assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(res.json)}`);
  const { error } = res.json;
  assert.equal(error?.type, "invalid_request_error");
  assert.equal(error?.param, param);
  assert.equal(typeof error?.message, "string");
  assert.equal(typeof error?.code, "string");
  assert.match(error?.message ?? "", /NUL characters or unpaired surrogates/);
}

test("user and model with NUL or a lone surrogate are a 400 naming the field", async () => {
  for (const s of bad) {
    await expectRefused("/v1/chat/completions", { ...chat, user: s }, "user");
    await expectRefused("/v1/chat/completions", { ...chat, model: s }, "model");
    await expectRefused("/v1/chat/completions", { ...chat, conversation: `conv_${s}` }, "conversation");
    await expectRefused("/v1/completions", { model: "tiny", prompt: "hi", max_tokens: 1, user: s }, "user");
    await expectRefused("/v1/completions", { model: s, prompt: "hi", max_tokens: 1 }, "model");
    await expectRefused("/v1/embeddings", { model: "tiny", input: "hi", user: s }, "user");
    await expectRefused("/v1/embeddings", { model: s, input: "hi" }, "model");
  }
});

test("an API key's model list and the usage report's key with NUL are 400s", async () => {
  await expectRefused("/v1/admin/keys", { name: "k1", models: ["tiny", "x\u0000"] }, "models.[1]");
  const res = await fetch(`${server.url}/v1/usage?key=k%00`, { headers: auth });
  assert.equal(res.status, 400);
});

test("text with characters outside the BMP is still accepted", async () => {
  const res = await post(`${server.url}/v1/chat/completions`, { ...chat, user: "user-\u{1F600}-é" }, auth);
  assert.equal(res.status, 200, JSON.stringify(res.json));
});
