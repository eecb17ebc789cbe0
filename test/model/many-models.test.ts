import assert from "node:assert/strict";
import { copyFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { ModelEvent } from "../../src/wire/modelEvent.ts";
import { testModel } from "../helpers/models.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";

/**
 * Several generated models behind one server, within a memory budget. Each `tiny` runner takes
 * about 130-140 MB (estimated and measured), the `tiny-llama3` one about 400 MB, so a 300 MB budget
 * holds two tiny models and never the larger one.
 */
let dir: string;
const messages = [{ role: "user" as const, content: "hello" }];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-many-"));
  const tiny = await testModel("tiny");
  for (const name of ["a", "b", "c", "d"]) await copyFile(tiny, join(dir, `${name}.gguf`));
  await copyFile(await testModel("tiny-llama3"), join(dir, "big.gguf"));
});

const models = (ids: string[], extra: Record<string, unknown> = {}) => ids.map((id) => ({ id, path: join(dir, `${id}.gguf`), ...extra }));
const states = async (s: TestServer) => Object.fromEntries(
  ((await (await fetch(`${s.url}/v1/models`)).json()) as { data: { id: string; state: string }[] }).data.map((m) => [m.id, m.state]),
);
const ask = (s: TestServer, model: string, extra: Record<string, unknown> = {}) =>
  s.client.chat.completions.create({ model, messages, max_tokens: 3, temperature: 0, ...extra });

/** A stream that is running (its first token is out); `end()` cancels it. */
async function holdStream(s: TestServer, model: string) {
  const controller = new AbortController();
  const res = await fetch(`${s.url}/v1/chat/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
    body: JSON.stringify({ model, messages, max_tokens: 4000, temperature: 0, stream: true }),
  });
  const reader = res.body!.getReader();
  let seen = "";
  while (!/"content":"[^"]/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before its first token: ${res.status} ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  return { end: () => controller.abort() };
}

test("two models answer concurrently, each with its own runner", async () => {
  const s = await startServer({ modelPath: null, config: { models: models(["a", "b"]), inference: { context_length: 4096 } } });
  try {
    const [ra, rb] = await Promise.all([ask(s, "a"), ask(s, "b")]);
    assert.deepEqual([ra.model, rb.model, ra.usage?.completion_tokens, rb.usage?.completion_tokens], ["a", "b", 3, 3]);
    assert.notEqual(s.hearth.router.runner("a")!.pid, s.hearth.router.runner("b")!.pid);
    // Both at once, streaming: each keeps its own slot busy while the other answers.
    const held = await holdStream(s, "a");
    assert.equal((await ask(s, "b")).usage?.completion_tokens, 3);
    held.end();
  } finally {
    await s.close();
  }
});

test("concurrent first requests for a model load it exactly once", async () => {
  const s = await startServer({ modelPath: null, config: { models: models(["a"]) } });
  try {
    const all = await Promise.all(Array.from({ length: 8 }, () => ask(s, "a")));
    assert.ok(all.every((r) => r.usage?.completion_tokens === 3));
    assert.equal(s.hearth.router.loadCount("a"), 1);
  } finally {
    await s.close();
  }
});

test("an idle model unloads after its keep-alive; keep_alive 0 unloads after the response; negative never", async () => {
  const s = await startServer({ modelPath: null, config: { models: models(["a", "b", "c"]), keep_alive: "4s" } });
  const events: ModelEvent[] = [];
  s.hearth.router.events.on("event", (e) => events.push(e));
  try {
    // a last: its 4 s start when its response ends, so loading the others cannot use them up on a slow machine.
    await ask(s, "b", { keep_alive: 0 });
    await ask(s, "c", { keep_alive: -1 });
    await ask(s, "a");
    assert.equal((await states(s)).a, "loaded");
    await waitUntil(async () => (await states(s)).b === "available", "b unloads right after its response", 5000);
    await waitUntil(async () => (await states(s)).a === "available", "a unloads after its 4 s keep-alive", 8000);
    const at = events.findIndex((e) => e.type === "state" && e.model === "a" && e.state === "unloading");
    assert.ok(at > 0, "the unload was announced");
    assert.equal((await states(s)).c, "loaded", "c was asked to stay");
    assert.equal(s.hearth.router.usedBytes > 0, true);
  } finally {
    await s.close();
  }
});

test("a budget for two models unloads the least recently used idle one for a third, never one that is serving; one too large gets 503", async () => {
  const s = await startServer({ modelPath: null, config: { models: models(["a", "b", "c", "big"]), memory_budget: "300MB", keep_alive: -1, inference: { context_length: 4096 } } });
  try {
    await ask(s, "a");
    await ask(s, "b");
    await ask(s, "a"); // now b is the least recently used
    await ask(s, "c");
    assert.deepEqual(await states(s), { a: "loaded", b: "available", c: "loaded", big: "available" });

    // a serves a long stream: asking for b must unload c (idle), not a.
    const held = await holdStream(s, "a");
    await ask(s, "b");
    assert.deepEqual(await states(s), { a: "loaded", b: "loaded", c: "available", big: "available" });

    // a still serving, b idle: big (about 400 MB) can never fit in 300 MB.
    const tooBig = await post(`${s.url}/v1/chat/completions`, { model: "big", messages });
    assert.equal(tooBig.status, 503);
    assert.equal(tooBig.json.error?.code, "insufficient_memory");
    assert.match(tooBig.json.error!.message, /needs about \d+ MiB .* only \d+ MiB of the 287 MiB budget/);
    assert.deepEqual(await states(s), { a: "loaded", b: "loaded", c: "available", big: "available" }, "nothing was unloaded for it");
    held.end();
    const health = (await (await fetch(`${s.url}/health`)).json()) as { memory: { used_bytes: number; budget_bytes: number } };
    assert.ok(health.memory.used_bytes <= health.memory.budget_bytes);
  } finally {
    await s.close();
  }
});

test("a request to a loaded model is answered while another, larger model is loading", async () => {
  const s = await startServer({ modelPath: null, config: { models: models(["a", "big"]) } });
  const events: ModelEvent[] = [];
  s.hearth.router.events.on("event", (e) => events.push(e));
  try {
    await ask(s, "a");
    const bigAnswer = ask(s, "big");
    await waitUntil(() => events.some((e) => e.type === "state" && e.model === "big" && e.state === "loading"), "big starts loading");
    const answered = await ask(s, "a");
    assert.equal(answered.usage?.completion_tokens, 3);
    assert.equal((await states(s)).big, "loading", "a answered while big was still loading");
    assert.equal((await bigAnswer).usage?.completion_tokens, 3);
  } finally {
    await s.close();
  }
});

test("load and unload on request; unloading a model that is serving is refused", async () => {
  const s = await startServer({ modelPath: null, config: { models: models(["a"], { aliases: ["alpha"] }), keep_alive: -1, inference: { context_length: 4096 } } });
  try {
    const loaded = await post(`${s.url}/v1/models/alpha/load`, {});
    assert.equal(loaded.status, 200);
    assert.deepEqual([loaded.json.id, loaded.json.state, loaded.json.aliases], ["a", "loaded", ["alpha"]]);
    assert.ok((loaded.json.memory_bytes as number) > 0);
    const held = await holdStream(s, "alpha");
    const busy = await post(`${s.url}/v1/models/a/unload`, {});
    assert.equal(busy.status, 409);
    assert.equal(busy.json.error?.code, "model_in_use");
    held.end();
    await waitUntil(() => s.hearth.router.runner("a")!.inFlight === 0, "the stream is cancelled");
    await waitUntil(async () => (await post(`${s.url}/v1/models/a/unload`, {})).status === 200, "a unloads once idle");
    assert.equal((await states(s)).a, "available");
    assert.equal(s.hearth.router.runner("a"), undefined);
  } finally {
    await s.close();
  }
});

test("a pinned model larger than the budget is reported failed with the reason, not loading forever", async () => {
  const s = await startServer({ config: { memory_budget: "50MB" } });
  try {
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { status: string; model: string; error: string };
    assert.deepEqual([body.status, body.model], ["error", "tiny"]);
    assert.match(body.error, /needs about \d+ MiB/);
  } finally {
    await s.close();
  }
});
