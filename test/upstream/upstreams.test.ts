import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { testModel } from "../helpers/models.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";

/**
 * Three real Hearth servers on loopback: two serve the tiny model, the third serves it through them
 * (`models: [{ id, upstreams }]`), with no model of its own.
 */
let a: TestServer;
let b: TestServer;
let gateway: TestServer;
let bPort: number;

const startUpstream = (port = 0) => startServer({ fake: true, config: { port } });
before(async () => {
  [a, b] = await Promise.all([startUpstream(), startUpstream()]);
  bPort = Number(new URL(b.url).port);
  gateway = await startServer({
    modelPath: null,
    config: {
      models: [
        { id: "tiny", upstreams: [{ url: `${a.url}/v1` }, { url: `${b.url}/v1` }] },
        { id: "tiny-sticky", affinity: "prefix", upstreams: [{ url: `${a.url}/v1`, model: "tiny" }, { url: `${b.url}/v1`, model: "tiny" }] },
        { id: "tiny-brief", defaults: { max_tokens: 3, temperature: 0 }, upstreams: [{ url: `${a.url}/v1`, model: "tiny" }] },
      ],
    },
  });
});
after(() => Promise.all([a.close(), b.close(), gateway.close()]));

/** The values of a Prometheus metric's series. */
async function metric(server: TestServer, name: string): Promise<number[]> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).map((l) => Number(l.split(" ").at(-1)));
}

/** Generation requests each upstream has finished, from its own Prometheus counter. */
async function served(server: TestServer): Promise<number> {
  return (await metric(server, "hearth_requests_finished_total")).reduce((n, v) => n + v, 0);
}

const ask = (server: TestServer, content: string, extra: Record<string, unknown> = {}) => server.client.chat.completions.create({
  model: "tiny", messages: [{ role: "user", content }], max_tokens: 12, temperature: 0, ...extra,
});

test("a streamed answer through the gateway is the upstream's answer, with its usage", async () => {
  const direct = await ask(a, "Hello there");
  let text = "";
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  for await (const chunk of await gateway.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hello there" }], max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } })) {
    text += chunk.choices[0]?.delta.content ?? "";
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, direct.choices[0]!.message.content);
  assert.equal(usage?.prompt_tokens, direct.usage!.prompt_tokens);
  assert.equal(usage?.completion_tokens, direct.usage!.completion_tokens);
  const models = await gateway.client.models.list();
  assert.deepEqual(models.data.map((m) => m.id).sort(), ["tiny", "tiny-brief", "tiny-sticky"]);
});

test("an upstream model's defaults apply to requests that set none, as a local model's do", async () => {
  const messages = [{ role: "user" as const, content: "Tell me everything" }];
  const seen = (r: { choices: { message: { content: string | null }; finish_reason: string }[]; usage?: { completion_tokens: number } }) => [r.choices[0]!.message.content, r.choices[0]!.finish_reason, r.usage!.completion_tokens];
  const brief = await gateway.client.chat.completions.create({ model: "tiny-brief", messages });
  const direct = await a.client.chat.completions.create({ model: "tiny", messages, max_tokens: 3, temperature: 0 });
  assert.deepEqual(seen(brief), seen(direct), "3 tokens, greedy, as its defaults say");
  assert.equal(brief.usage!.completion_tokens, 3);
  const asked = await gateway.client.chat.completions.create({ model: "tiny-brief", messages, max_tokens: 6 });
  assert.deepEqual(seen(asked), seen(await a.client.chat.completions.create({ model: "tiny", messages, max_tokens: 6, temperature: 0 })), "a request's own max_tokens wins");
});

test("load spreads over both upstreams, least busy first", async () => {
  const [a0, b0] = await Promise.all([served(a), served(b)]);
  await Promise.all(Array.from({ length: 8 }, (_, i) => ask(gateway, `question ${i}`, { max_tokens: 24 })));
  const [a1, b1] = await Promise.all([served(a), served(b)]);
  assert.equal(a1 - a0 + b1 - b0, 8);
  assert.ok(a1 - a0 >= 2 && b1 - b0 >= 2, `a served ${a1 - a0}, b ${b1 - b0}`);
});

test("prefix affinity sends a conversation's turns to one upstream", async () => {
  const [a0, b0] = await Promise.all([served(a), served(b)]);
  const history = [{ role: "system" as const, content: "You keep the fire." }, { role: "user" as const, content: "First turn" }];
  for (let turn = 0; turn < 4; turn++) {
    const res = await gateway.client.chat.completions.create({ model: "tiny-sticky", messages: [...history], max_tokens: 4, temperature: 0 });
    history.push({ role: "assistant" as never, content: res.choices[0]!.message.content ?? "" }, { role: "user", content: `Turn ${turn + 2}` });
  }
  const [a1, b1] = await Promise.all([served(a), served(b)]);
  assert.deepEqual([a1 - a0, b1 - b0].sort(), [0, 4], `a served ${a1 - a0}, b ${b1 - b0}`);
});

test("an upstream's refusal comes back as the same OpenAI error, and is not retried elsewhere", async () => {
  const attempts = async () => (await metric(gateway, "hearth_upstream_requests")).reduce((n, v) => n + v, 0);
  const before = await attempts();
  const res = await post(`${gateway.url}/v1/chat/completions`, { model: "tiny", messages: [{ role: "user", content: "x".repeat(3000) }], max_tokens: 10 });
  assert.equal(res.status, 400);
  assert.equal(res.json.error?.code, "context_length_exceeded");
  assert.equal((await attempts()) - before, 1, "tried once");
});

test("a client that goes away frees the upstream's slot", async () => {
  const controller = new AbortController();
  const stream = await gateway.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "long" }], max_tokens: 900, temperature: 1, stream: true }, { signal: controller.signal });
  for await (const _ of stream) break; // the first chunk: it is streaming
  controller.abort();
  const busy = async () => {
    const slots = await Promise.all([a, b].map(async (s) => ((await (await fetch(`${s.url}/v1/slots`)).json()) as { data: { state: string }[] }).data));
    return slots.flat().filter((s) => s.state !== "idle").length;
  };
  await waitUntil(async () => (await busy()) === 0, "both upstreams' slots are idle");
});

test("an upstream that dies loses no request that had not started, and is used again once it is back", async () => {
  await b.close();
  // Every request gets an answer: those sent to b while it is down go to a.
  const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(gateway, `while b is down ${i}`)));
  assert.equal(answers.length, 6);
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  assert.match(metrics, new RegExp(`hearth_upstream_healthy\\{model="tiny",upstream="http://127\\.0\\.0\\.1:${bPort}/v1"\\} 0`));

  b = await startUpstream(bPort);
  const b0 = await served(b);
  // Cooled down for a few seconds at most, then tried again (or found by the health check).
  await waitUntil(async () => {
    await Promise.all(Array.from({ length: 2 }, (_, i) => ask(gateway, `b is back ${i}`, { max_tokens: 2 })));
    return (await served(b)) > b0;
  }, "b serves again", 40_000);
});

test("the gateway's usage log has one row per chat request it answered, retried ones included", async () => {
  const answered = async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return text.split("\n").filter((l) => l.startsWith("hearth_requests_total{") && l.includes('route="/v1/chat/completions"')).reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
  };
  await ask(gateway, "count me once");
  const requests = await answered();
  assert.ok(requests > 20);
  await waitUntil(async () => (await metric(gateway, "hearth_usage_rows_pending"))[0] === 0 && (await usageRows()).rows >= requests, "every row is written");
  // The request whose client went away has its row (status 499) but no HTTP response to count.
  const { rows, cancelled } = await usageRows();
  assert.equal(cancelled, 1);
  assert.equal(rows, requests + cancelled);
});

async function usageRows(): Promise<{ rows: number; cancelled: number }> {
  const res = await fetch(`${gateway.url}/v1/usage?group_by=model`);
  const json = await res.json() as { data: { requests: number; cancelled: number }[] };
  return { rows: json.data.reduce((n, r) => n + r.requests, 0), cancelled: json.data.reduce((n, r) => n + r.cancelled, 0) };
}

test("an upstream that reports no usage is counted with the model's tokenizer", async () => {
  // A stand-in for an OpenAI-compatible server that streams without a usage chunk (every real
  // engine here reports usage when asked): it answers with fixed text.
  const { createServer } = await import("node:http");
  const reply = "The fire is warm tonight.";
  const bare = createServer((req, res) => {
    if (req.url === "/v1/models") {
      res.end(JSON.stringify({ object: "list", data: [] }));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    for (const piece of [reply.slice(0, 9), reply.slice(9)]) res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`);
    res.end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`);
  });
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
  const port = (bare.address() as { port: number }).port;
  const counted = await startServer({ modelPath: null, config: { models: [{ id: "bare", path: await testModel("tiny"), upstreams: [{ url: `http://127.0.0.1:${port}/v1` }] }] } });
  try {
    const res = await counted.client.chat.completions.create({ model: "bare", messages: [{ role: "user", content: "hi" }] });
    assert.equal(res.choices[0]!.message.content, reply);
    // The tiny model's vocabulary has one token per byte.
    assert.equal(res.usage!.completion_tokens, Buffer.byteLength(reply));
    assert.equal(res.usage!.prompt_tokens, 2);
  } finally {
    await counted.close();
    bare.close();
  }
});

// Last: its rows in the gateway's usage log are not chat requests, which the test above counts.
test("a rerank through the gateway is the upstream's ranking, cut to top_n here; the upstream's refusal comes back as it is", async () => {
  const body = { model: "tiny", query: "capital of France", documents: ["Paris", "Berlin", { text: "Madrid" }, "Rome"] };
  const direct = await post(`${a.url}/v1/rerank`, body);
  assert.equal(direct.status, 200, JSON.stringify(direct.json));
  const through = await post(`${gateway.url}/v1/rerank`, { ...body, top_n: 2, return_documents: true });
  assert.equal(through.status, 200, JSON.stringify(through.json));
  type Answer = { results: { index: number; relevance_score: number; document?: { text: string } }[]; usage: { prompt_tokens: number } };
  const want = (direct.json as unknown as Answer).results.slice(0, 2).map((r) => ({ ...r, document: { text: ["Paris", "Berlin", "Madrid", "Rome"][r.index]! } }));
  assert.deepEqual((through.json as unknown as Answer).results, want);
  assert.equal((through.json as unknown as Answer).usage.prompt_tokens, (direct.json as unknown as Answer).usage.prompt_tokens);
  const refused = await post(`${gateway.url}/v1/rerank`, { ...body, documents: ["x".repeat(2000)] });
  assert.deepEqual([refused.status, refused.json.error?.code, refused.json.error?.param], [400, "context_length_exceeded", "documents[0]"], "the upstream's own 4xx");
});
