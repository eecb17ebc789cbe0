import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { post, startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
before(async () => { server = await startServer({ fake: true }); });
after(() => server.close());

interface Conv {
  id: string; object: string; title: string; model: string | null; system_prompt: string | null; settings: Record<string, number>;
  created_at: number; updated_at: number;
  messages: { id: string; role: string; content: string; created_at: number; metadata: Record<string, unknown> | null }[];
}
interface ListJson { object: string; data: { id: string; title: string; message_count: number; snippet?: string }[]; has_more: boolean }

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T & { error?: { code: string; param: string | null } } }> {
  const res = await fetch(`${server.url}${path}`, { method, ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: await res.json() as T & { error?: { code: string; param: string | null } } };
}

test("a conversation is created, read, renamed, listed and deleted", async () => {
  const created = await call<Conv>("POST", "/v1/conversations", { model: server.model, system_prompt: "Be brief.", settings: { temperature: 0.5 }, messages: [{ role: "user", content: "What is a hearth, really? ".repeat(5) }] });
  assert.equal(created.status, 201);
  const c = created.json;
  assert.match(c.id, /^conv_/);
  assert.equal(c.object, "conversation");
  assert.equal(c.title, "What is a hearth, really? ".repeat(5).trim().slice(0, 60), "the title defaults to the first user message's first 60 characters");
  assert.equal(c.system_prompt, "Be brief.");
  assert.deepEqual(c.settings, { temperature: 0.5 });
  assert.equal(c.messages.length, 1);
  assert.match(c.messages[0]!.id, /^msg_/);
  assert.ok(Math.abs(c.created_at - Date.now() / 1000) < 60);

  assert.equal((await call<Conv>("POST", "/v1/conversations", {})).json.title, "New chat");

  const renamed = await call<Conv>("PATCH", `/v1/conversations/${c.id}`, { title: "Renamed" });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.json.title, "Renamed");
  assert.equal(renamed.json.messages.length, 1, "a PATCH without messages keeps them");
  const replaced = await call<Conv>("PATCH", `/v1/conversations/${c.id}`, { messages: [{ role: "user", content: "one" }, { role: "assistant", content: "two" }] });
  assert.deepEqual(replaced.json.messages.map((m) => m.content), ["one", "two"]);

  const list = await call<ListJson>("GET", "/v1/conversations");
  assert.equal(list.json.object, "list");
  assert.equal(list.json.data[0]!.id, c.id, "the conversation updated last comes first");
  assert.equal(list.json.data[0]!.message_count, 2);

  const deleted = await call<{ id: string; object: string; deleted: boolean }>("DELETE", `/v1/conversations/${c.id}`);
  assert.deepEqual(deleted.json, { id: c.id, object: "conversation.deleted", deleted: true });
  const gone = await call<Conv>("GET", `/v1/conversations/${c.id}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error?.code, "conversation_not_found");
});

test("search finds titles and message text, case-insensitively, with LIKE wildcards taken literally", async () => {
  const a = (await call<Conv>("POST", "/v1/conversations", { title: "Chimney SWEEPING notes", messages: [] })).json;
  const b = (await call<Conv>("POST", "/v1/conversations", { title: "Other", messages: [{ role: "user", content: "the flue draws at 100% when the damper is open" }] })).json;
  const search = async (q: string) => (await call<ListJson>("GET", `/v1/conversations?q=${encodeURIComponent(q)}`)).json.data;
  assert.deepEqual((await search("chimney sweeping")).map((c) => c.id), [a.id]);
  const byText = await search("FLUE DRAWS");
  assert.deepEqual(byText.map((c) => c.id), [b.id]);
  assert.match(byText[0]!.snippet ?? "", /flue draws/);
  assert.deepEqual((await search("100%")).map((c) => c.id), [b.id]);
  const percent = (await search("%")).map((c) => c.id);
  assert.ok(percent.includes(b.id) && !percent.includes(a.id), "% matches a literal percent sign only");
  assert.deepEqual(await search("_"), []);
  const page = await call<ListJson>("GET", "/v1/conversations?limit=1");
  assert.equal(page.json.data.length, 1);
  assert.equal(page.json.has_more, true);
  const next = await call<ListJson>("GET", `/v1/conversations?limit=1&before=${page.json.data[0]!.id}`);
  assert.notEqual(next.json.data[0]!.id, page.json.data[0]!.id);
});

test("an exported conversation posted back is an equal copy with a new id", async () => {
  const original = (await call<Conv>("POST", "/v1/conversations", {
    title: "To export", model: server.model, system_prompt: "sys", settings: { max_tokens: 10, top_p: 0.9 },
    messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello", metadata: { model: server.model, finish_reason: "stop" } }],
  })).json;
  const exported = (await call<Conv>("GET", `/v1/conversations/${original.id}`)).json;
  const imported = await call<Conv>("POST", "/v1/conversations", exported);
  assert.equal(imported.status, 201);
  assert.notEqual(imported.json.id, original.id);
  const strip = (c: Conv) => ({ title: c.title, model: c.model, system_prompt: c.system_prompt, settings: c.settings, messages: c.messages.map((m) => ({ role: m.role, content: m.content, metadata: m.metadata })) });
  assert.deepEqual(strip(imported.json), strip(exported));
});

test("limits: a title over 200 characters and unknown roles are refused", async () => {
  const long = await call<Conv>("POST", "/v1/conversations", { title: "x".repeat(201) });
  assert.equal(long.status, 400);
  assert.equal(long.json.error?.param, "title");
  const role = await call<Conv>("POST", "/v1/conversations", { messages: [{ role: "tool", content: "x" }] });
  assert.equal(role.status, 400);
});

test("a chat request that names a conversation continues it and is kept there", async () => {
  const conv = (await call<Conv>("POST", "/v1/conversations", { model: server.model, system_prompt: "You are terse." })).json;
  const first = await server.client.chat.completions.create({ model: server.model, messages: [{ role: "user", content: "Hello there" }], max_tokens: 6, temperature: 0, conversation: conv.id } as never);
  const afterFirst = (await call<Conv>("GET", `/v1/conversations/${conv.id}`)).json;
  assert.deepEqual(afterFirst.messages.map((m) => m.role), ["user", "assistant"]);
  assert.equal(afterFirst.messages[0]!.content, "Hello there");
  assert.equal(afterFirst.messages[1]!.content, first.choices[0]!.message.content);
  const meta = afterFirst.messages[1]!.metadata as { model: string; finish_reason: string; usage: { completion_tokens: number }; ttft_ms: number };
  assert.equal(meta.model, server.model);
  assert.equal(meta.finish_reason, first.choices[0]!.finish_reason);
  assert.equal(meta.usage.completion_tokens, first.usage?.completion_tokens);
  assert.equal(typeof meta.ttft_ms, "number");

  // The second turn's prompt holds the first turn: more prompt tokens than the same message alone.
  const alone = await server.client.chat.completions.create({ model: server.model, messages: [{ role: "user", content: "And again" }], max_tokens: 2, temperature: 0 });
  const stream = await server.client.chat.completions.create({ model: server.model, messages: [{ role: "user", content: "And again" }], max_tokens: 2, temperature: 0, stream: true, stream_options: { include_usage: true }, conversation: conv.id } as never) as unknown as AsyncIterable<{ usage?: { prompt_tokens: number } | null }>;
  let promptTokens = 0;
  for await (const chunk of stream) if (chunk.usage) promptTokens = chunk.usage.prompt_tokens;
  assert.ok(promptTokens > alone.usage!.prompt_tokens + 5, `the second turn's prompt (${promptTokens}) includes the first turn (alone: ${alone.usage!.prompt_tokens})`);
  const afterSecond = (await call<Conv>("GET", `/v1/conversations/${conv.id}`)).json;
  assert.deepEqual(afterSecond.messages.map((m) => m.content.length > 0 ? m.role : "empty"), ["user", "assistant", "user", "assistant"]);
});

test("a chat request naming an unknown conversation gets 404, and n > 1 with a conversation 400; neither is kept", async () => {
  const unknown = await post(`${server.url}/v1/chat/completions`, { model: server.model, messages: [{ role: "user", content: "x" }], max_tokens: 2, conversation: "conv_doesnotexist" });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error?.param, "conversation");
  const conv = (await call<Conv>("POST", "/v1/conversations", {})).json;
  const many = await post(`${server.url}/v1/chat/completions`, { model: server.model, messages: [{ role: "user", content: "x" }], max_tokens: 2, n: 2, conversation: conv.id });
  assert.equal(many.status, 400);
  const badModel = await post(`${server.url}/v1/chat/completions`, { model: "nope", messages: [{ role: "user", content: "x" }], max_tokens: 2, conversation: conv.id });
  assert.equal(badModel.status, 404);
  assert.equal((await call<Conv>("GET", `/v1/conversations/${conv.id}`)).json.messages.length, 0, "a request that failed before any text adds nothing");
});

test("a NUL, a lone surrogate or metadata nested too deep is a 400 naming the field, on create and on edit", async () => {
  let deep: unknown = "leaf";
  for (let i = 0; i < 40; i++) deep = { a: [deep] };
  const cases: [unknown, string][] = [
    [{ title: "a\u0000b" }, "title"],
    [{ messages: [{ role: "user", content: "fine" }, { role: "assistant", content: "x\u0000" }] }, "messages[1].content"],
    [{ messages: [{ role: "user", content: "ok", metadata: { note: ["\u0000"] } }] }, "messages[0].metadata"],
    [{ system_prompt: "\u0000" }, "system_prompt"],
    [{ title: "half \ud800 a pair" }, "title"],
    [{ messages: [{ role: "user", content: "\udc00" }] }, "messages[0].content"],
    [{ messages: [{ role: "user", content: "ok", metadata: { a: [[{ b: "\ud800" }]] } }] }, "messages[0].metadata"],
    [{ messages: [{ role: "user", content: "ok", metadata: { ["k\udfff"]: 1 } }] }, "messages[0].metadata"],
    [{ messages: [{ role: "user", content: "ok", metadata: deep }] }, "messages[0].metadata"],
  ];
  const target = (await call<Conv>("POST", "/v1/conversations", { title: "Kept" })).json;
  for (const [body, param] of cases) {
    for (const [method, path] of [["POST", "/v1/conversations"], ["PATCH", `/v1/conversations/${target.id}`]] as const) {
      const r = await call<Conv>(method, path, body);
      assert.equal(r.status, 400, `${method} ${param}`);
      assert.equal(r.json.error?.code, "invalid_request");
      assert.equal(r.json.error?.param, param);
    }
  }
  const pair = await call<Conv>("POST", "/v1/conversations", { title: "a pair \ud83d\ude00", messages: [{ role: "user", content: "ok", metadata: { a: { b: ["\ud83d\ude00"] } } }] });
  assert.equal(pair.status, 201, "a surrogate pair is one character, stored as it came");
  assert.deepEqual((await call<Conv>("GET", `/v1/conversations/${pair.json.id}`)).json.messages[0]!.metadata, { a: { b: ["\ud83d\ude00"] } });
  const literal = await call<Conv>("POST", "/v1/conversations", { title: "a \\u0000 escape, as text" });
  assert.equal(literal.status, 201, "a backslash-u escape written as text is not a NUL");
  assert.equal((await call<Conv>("GET", `/v1/conversations/${target.id}`)).json.title, "Kept", "a refused edit changes nothing");
});
