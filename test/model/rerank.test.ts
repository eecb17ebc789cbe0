import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type LlamaRankingContext } from "node-llama-cpp";
import { openStore } from "../../src/store/openStore.ts";
import { testModel } from "../helpers/models.ts";
import { runExample } from "../helpers/runExample.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";

/**
 * /v1/rerank on the generated reranker (Qwen3-Reranker's shape, random weights: its scores mean
 * nothing, but they are the model's), checked against node-llama-cpp's own ranking context on the
 * same file in this process, with the context the runner creates (the server's context size, a
 * batch of the same size, one thread): the same inputs give bit-identical scores.
 */
const QUERY = "What is the capital of France?";
const DOCS = [
  "Paris is the capital and largest city of France.",
  "Bananas are rich in potassium.",
  "France borders Belgium, Germany, Switzerland, Italy and Spain.",
  "The Eiffel Tower was built for the 1889 World's Fair in Paris.",
  "Berlin is the capital of Germany.",
];

interface Result { index: number; relevance_score: number; document?: { text: string } }
interface Answer { id: string; model: string; object: string; results: Result[]; usage: { prompt_tokens: number; total_tokens: number } }

let server: TestServer;
let rerankerPath: string;
let llama: Llama;
let direct: { model: LlamaModel; ctx: LlamaRankingContext };

before(async () => {
  rerankerPath = await testModel("reranker");
  server = await startServer({
    modelPath: null,
    config: { models: [{ id: "reranker", path: rerankerPath }, { id: "tiny", path: await testModel("tiny") }] },
  });
  await server.hearth.router.load("reranker");
  llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  llama.maxThreads = 1;
  const model = await llama.loadModel({ modelPath: rerankerPath });
  const size = server.hearth.router.models().find((m) => m.id === "reranker")!.contextSize;
  direct = { model, ctx: await model.createRankingContext({ contextSize: size, batchSize: size, threads: 1 }) };
});
after(async () => {
  await direct?.ctx.dispose();
  await direct?.model.dispose();
  await llama?.dispose();
  await server?.close();
});

async function rerank(body: Record<string, unknown>, path = "/v1/rerank"): Promise<Answer> {
  const res = await post(`${server.url}${path}`, { model: "reranker", query: QUERY, documents: DOCS, ...body });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json as unknown as Answer;
}

/** Each document's score, by its index in the request. */
const byIndex = (a: Answer) => Object.fromEntries(a.results.map((r) => [r.index, r.relevance_score]));

test("results come best first, once per document, with node-llama-cpp's rankAll scores; the ranking context counts against the memory budget", async () => {
  const usedBefore = server.hearth.router.usedBytes;
  const a = await rerank({});
  assert.equal(a.object, "list");
  assert.equal(a.model, "reranker");
  assert.match(a.id, /^rerank-[0-9a-f]{32}$/);
  assert.deepEqual(a.results.map((r) => r.index).sort(), [0, 1, 2, 3, 4]);
  const scores = a.results.map((r) => r.relevance_score);
  assert.deepEqual(scores, [...scores].sort((x, y) => y - x), "best first");
  assert.ok(scores.every((s) => s > 0 && s < 1), "probabilities");
  assert.ok(new Set(scores).size > 1, "the documents score differently");
  assert.ok(a.results.every((r) => r.document === undefined), "no documents unless asked");
  const expected = await direct.ctx.rankAll(QUERY, DOCS);
  assert.deepEqual(DOCS.map((_, i) => byIndex(a)[i]), expected);

  const memory = server.hearth.router.runner("reranker")!.extraMemory("rank");
  assert.ok(memory, "the runner reported the ranking context's memory");
  assert.equal(server.hearth.router.usedBytes - usedBefore, Math.max(0, memory.afterBytes - memory.beforeBytes));
});

test("the same request gives the same scores again; reordered documents keep theirs, under their new index", async () => {
  const a = byIndex(await rerank({}));
  assert.deepEqual(byIndex(await rerank({})), a);
  const order = [3, 0, 4, 1, 2];
  const b = await rerank({ documents: order.map((i) => DOCS[i]) });
  for (const r of b.results) assert.equal(r.relevance_score, a[order[r.index]!], `document ${order[r.index]} at index ${r.index}`);
});

test("top_n keeps the best n; return_documents adds each one's text; Cohere's {text} objects rank as strings do", async () => {
  const all = await rerank({});
  const top = await rerank({ top_n: 2, return_documents: true });
  assert.deepEqual(top.results.map((r) => [r.index, r.relevance_score]), all.results.slice(0, 2).map((r) => [r.index, r.relevance_score]));
  for (const r of top.results) assert.deepEqual(r.document, { text: DOCS[r.index] });
  assert.equal((await rerank({ top_n: 50 })).results.length, DOCS.length, "a top_n past the list returns them all");
  const objects = await rerank({ documents: DOCS.map((text) => ({ text })), return_documents: false });
  assert.deepEqual(objects.results, all.results);
});

test("usage counts every document with the query in the rerank template", async () => {
  const a = await rerank({});
  const expected = DOCS.reduce((n, d) => n + direct.ctx.calculateInputLength(QUERY, d), 0);
  assert.ok(expected > DOCS.length * 60, "the template's tokens are counted (about 60 a document)");
  assert.deepEqual([a.usage.prompt_tokens, a.usage.total_tokens], [expected, expected]);
});

test("/rerank is the same route, left out of the OpenAPI document", async () => {
  const a = await rerank({ top_n: 3, return_documents: true }, "/rerank");
  assert.deepEqual(a.results, (await rerank({ top_n: 3, return_documents: true })).results);
  type Schema = { properties?: Record<string, unknown>; required?: string[] };
  type Operation = { post?: { requestBody?: { content: Record<string, { schema: Schema }> }; responses?: Record<string, { content?: Record<string, { schema?: Schema }> }> } };
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Operation> };
  const op = doc.paths["/v1/rerank"]?.post;
  assert.deepEqual(op?.requestBody?.content["application/json"]?.schema.required?.sort(), ["documents", "model", "query"]);
  assert.ok(op?.responses?.["200"]?.content?.["application/json"]?.schema?.properties?.results, "the answer's schema");
  assert.equal(doc.paths["/rerank"], undefined);
});

test("a model that is not a reranker gets a 400 saying so, and both models keep serving", async () => {
  const res = await post(`${server.url}/v1/rerank`, { model: "tiny", query: QUERY, documents: DOCS });
  assert.equal(res.status, 400);
  assert.deepEqual(Object.keys(res.json.error!).sort(), ["code", "message", "param", "type"]);
  assert.deepEqual([res.json.error?.code, res.json.error?.type, res.json.error?.param], ["model_not_reranker", "invalid_request_error", "model"]);
  assert.match(res.json.error!.message, /'tiny' is not a reranker/);
  const tiny = await server.client.completions.create({ model: "tiny", prompt: "hi", max_tokens: 2 });
  assert.equal(tiny.usage?.completion_tokens, 2);
  assert.equal((await rerank({})).results.length, DOCS.length);
});

test("bad requests get a 400 naming the parameter, too long a text context_length_exceeded, and the model keeps serving", async () => {
  // Words of their own, so that no merge makes them fewer tokens than the 1024-token context.
  const long = Array.from({ length: 1500 }, (_, i) => `w${i}`).join(" ");
  const cases: [Record<string, unknown>, string, string][] = [
    [{ documents: [] }, "documents", "invalid_request"],
    [{ documents: "Paris" }, "documents", "invalid_request"],
    [{ documents: [42] }, "documents.[0]", "invalid_request"],
    [{ documents: Array.from({ length: 1001 }, () => "d") }, "documents", "invalid_request"],
    [{ query: "" }, "query", "invalid_request"],
    [{ query: undefined }, "query", "invalid_request"],
    [{ top_n: 0 }, "top_n", "invalid_request"],
    [{ return_documents: "yes" }, "return_documents", "invalid_request"],
    [{ documents: ["fine", long] }, "documents[1]", "context_length_exceeded"],
    [{ query: long }, "query", "context_length_exceeded"],
  ];
  for (const [body, param, code] of cases) {
    const res = await post(`${server.url}/v1/rerank`, { model: "reranker", query: QUERY, documents: DOCS, ...body });
    const what = JSON.stringify(body).slice(0, 80);
    assert.equal(res.status, 400, what);
    assert.deepEqual([res.json.error?.code, res.json.error?.type, res.json.error?.param], [code, "invalid_request_error", param], what);
  }
  const unknown = await post(`${server.url}/v1/rerank`, { model: "nope", query: QUERY, documents: DOCS });
  assert.deepEqual([unknown.status, unknown.json.error?.code], [404, "model_not_found"]);
  assert.equal((await rerank({})).results.length, DOCS.length);
});

test("a client that goes away stops the ranking before the next document", async () => {
  const cpu = async () => (await server.hearth.router.snapshot()).models.find((m) => m.id === "reranker")!.cpuSeconds;
  /** The runner's CPU time over a window: a ranking keeps its one thread busy, an idle runner uses next to none. */
  const busy = async () => {
    const start = await cpu();
    await new Promise((r) => setTimeout(r, 300));
    return (await cpu()) - start > 0.03;
  };
  // About 25 ms a document here: ranked to the end, the list would keep the runner busy for half a minute.
  const documents = Array.from({ length: 1000 }, (_, i) => `document ${i} of a long list`);
  const controller = new AbortController();
  const answer = fetch(`${server.url}/v1/rerank`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
    body: JSON.stringify({ model: "reranker", query: QUERY, documents }),
  }).then(() => "answered", () => "aborted");
  await waitUntil(busy, "the ranking runs");
  controller.abort();
  assert.equal(await answer, "aborted");
  await waitUntil(async () => !(await busy()), "the runner stops ranking", 5_000);
  assert.equal((await rerank({})).results.length, DOCS.length, "and ranks the next request");
});

test("examples/rerank.ts prints the server's best three, best first", async () => {
  const expected = (await rerank({ top_n: 3, return_documents: true })).results;
  const { code, out, err } = await runExample("rerank.ts", { HEARTH_URL: server.url, HEARTH_MODEL: "reranker", HEARTH_API_KEY: "" });
  assert.equal(code, 0, err);
  const lines = out.trim().split("\n");
  assert.equal(lines[0], `query: ${QUERY}`);
  assert.deepEqual(lines.slice(1, 4), expected.map((r) => `${r.relevance_score.toFixed(4)} [${r.index}] ${DOCS[r.index]}`));
  assert.match(lines[4]!, /^\d+ tokens$/);
});

test("with auth required: no key is 401, a key for other models 403, a key's request is logged with its route", async () => {
  const ADMIN = "admin-key-for-the-rerank-tests";
  const data = await mkdtemp(join(tmpdir(), "hearth-rerank-"));
  const secured = await startServer({ modelPath: null, config: { auth: "required", admin_key: ADMIN, data_dir: data, models: [{ id: "reranker", path: rerankerPath }] } });
  const body = { model: "reranker", query: QUERY, documents: DOCS };
  let tokens: number;
  try {
    const key = async (name: string, models?: string[]) => {
      const res = await post(`${secured.url}/v1/admin/keys`, { name, ...(models ? { models } : {}) }, { "content-type": "application/json", authorization: `Bearer ${ADMIN}` });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      return { "content-type": "application/json", authorization: `Bearer ${res.json.key as string}` };
    };
    const anonymous = await post(`${secured.url}/v1/rerank`, body);
    assert.deepEqual([anonymous.status, anonymous.json.error?.code], [401, "missing_api_key"]);
    const limited = await post(`${secured.url}/v1/rerank`, body, await key("elsewhere", ["other"]));
    assert.deepEqual([limited.status, limited.json.error?.code], [403, "model_not_allowed"]);
    const allowed = await post(`${secured.url}/v1/rerank`, body, await key("ranker"));
    assert.equal(allowed.status, 200, JSON.stringify(allowed.json));
    tokens = (allowed.json as unknown as Answer).usage.prompt_tokens;
  } finally {
    await secured.close(); // writes the usage rows
  }
  const store = await openStore({ dataDir: data });
  try {
    const { rows } = await store.query<{ key_name: string | null; model: string; status: number; prompt_tokens: number }>(
      "SELECT key_name, model, status, prompt_tokens FROM usage_log WHERE route = '/v1/rerank' ORDER BY ts");
    assert.deepEqual(rows.map((r) => [r.key_name, r.status]), [[null, 401], ["elsewhere", 403], ["ranker", 200]]);
    assert.deepEqual(rows.slice(1).map((r) => r.model), ["reranker", "reranker"]);
    assert.equal(rows[2]!.prompt_tokens, tokens);
  } finally {
    await store.close();
    await rm(data, { recursive: true, force: true });
  }
});
