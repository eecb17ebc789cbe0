import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { testModel } from "../helpers/models.ts";

/**
 * Reasoning apart from the answer, on the Qwen3 and gpt-oss presets (real tokenizers and templates,
 * random weights). Random weights never open a thinking block on their own, so each reply starts
 * inside one: an assistant prefill with `reasoning_content` and no content is continued as
 * reasoning. A bias on the family's closing marker makes the model end the block after a few tokens.
 */
interface Family { preset: "qwen3" | "gpt-oss"; close: number; markers: RegExp }
const families: Family[] = [
  { preset: "qwen3", close: 151668, markers: /<\/?think>/ }, // </think>
  { preset: "gpt-oss", close: 200007, markers: /<\|(channel|message|end|start|constrain|return|call)\|>/ }, // <|end|>
];

const servers = new Map<string, TestServer>();
before(async () => {
  for (const f of families) {
    servers.set(f.preset, await startServer({ modelPath: await testModel(f.preset), config: { inference: { context_length: 2048 } } }));
  }
});
after(async () => {
  for (const s of servers.values()) await s.close();
});

type Message = { role: "user" | "assistant"; content: string | null; reasoning_content?: string };
interface Answer { content: string | null; reasoning: string; finish: string | null; usage: { completion_tokens: number; completion_tokens_details?: { reasoning_tokens: number } } }

async function ask(f: Family, body: Record<string, unknown>): Promise<Answer> {
  const s = servers.get(f.preset)!;
  const r = await s.client.chat.completions.create({ model: s.model, ...body } as never) as never as {
    choices: { message: { content: string | null; reasoning_content?: string }; finish_reason: string }[]; usage: Answer["usage"];
  };
  const c = r.choices[0]!;
  return { content: c.message.content, reasoning: c.message.reasoning_content ?? "", finish: c.finish_reason, usage: counts(r.usage) };
}

async function askStreamed(f: Family, body: Record<string, unknown>): Promise<Answer> {
  const s = servers.get(f.preset)!;
  const stream = await s.client.chat.completions.create({ model: s.model, ...body, stream: true, stream_options: { include_usage: true } } as never) as never as AsyncIterable<{
    choices: { delta: { content?: string | null; reasoning_content?: string }; finish_reason: string | null }[]; usage?: Answer["usage"] | null;
  }>;
  const out: Answer = { content: "", reasoning: "", finish: null, usage: { completion_tokens: 0 } };
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (c?.delta.content) out.content += c.delta.content;
    if (c?.delta.reasoning_content) out.reasoning += c.delta.reasoning_content;
    if (c?.finish_reason) out.finish = c.finish_reason;
    if (chunk.usage) out.usage = counts(chunk.usage);
  }
  return out;
}

/** The completion's counts (the prompt's cached part differs between a first and a second request). */
const counts = (u: Answer["usage"]): Answer["usage"] => ({ completion_tokens: u.completion_tokens, ...(u.completion_tokens_details ? { completion_tokens_details: u.completion_tokens_details } : {}) });

const thinking = (reasoning: string): Message[] => [{ role: "user", content: "What is 2 + 2?" }, { role: "assistant", content: null, reasoning_content: reasoning }];

for (const f of families) {
  test(`${f.preset}: the reasoning comes back as reasoning_content, the answer as content, streamed the same as not, its tokens counted`, async () => {
    let closed = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const body = { messages: thinking("Let me think."), max_tokens: 24, temperature: 1, seed, logit_bias: { [f.close]: 14 } };
      const whole = await ask(f, body);
      const streamed = await askStreamed(f, body);
      assert.deepEqual(streamed, { ...whole, content: whole.content ?? "" }, `seed ${seed}`);
      assert.equal(typeof whole.content, "string");
      assert.doesNotMatch(whole.content!, f.markers, `seed ${seed}: no marker in the content`);
      assert.doesNotMatch(whole.reasoning, f.markers, `seed ${seed}: no marker in the reasoning`);
      const reasoningTokens = whole.usage.completion_tokens_details?.reasoning_tokens;
      assert.ok(reasoningTokens !== undefined && reasoningTokens >= 1 && reasoningTokens <= whole.usage.completion_tokens, `seed ${seed}: ${reasoningTokens}`);
      if (reasoningTokens < whole.usage.completion_tokens) closed++;
    }
    assert.ok(closed >= 3, `the block closed and an answer followed in ${closed} of 6 replies`);
  });

  test(`${f.preset}: a thinking block cut by max_tokens leaves an empty content string and all tokens counted as reasoning`, async () => {
    const body = { messages: thinking("First,"), max_tokens: 8, temperature: 1, seed: 3, logit_bias: { [f.close]: -100 } };
    for (const a of [await ask(f, body), await askStreamed(f, body)]) {
      assert.equal(a.finish, "length");
      assert.equal(a.content, "");
      assert.ok(a.reasoning.length > 0);
      assert.equal(a.usage.completion_tokens_details?.reasoning_tokens, 8);
    }
  });

  test(`${f.preset}: reasoning of earlier turns is dropped the way the template drops it`, async () => {
    const history = (reasoning?: string) => [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello!", ...(reasoning ? { reasoning_content: reasoning } : {}) },
      { role: "user", content: "Bye" },
    ];
    const body = { max_tokens: 1, temperature: 0 };
    const without = await servers.get(f.preset)!.client.chat.completions.create({ model: "tiny", messages: history() as never, ...body });
    const withIt = await servers.get(f.preset)!.client.chat.completions.create({ model: "tiny", messages: history("a long earlier thought that the template leaves out") as never, ...body });
    assert.equal(withIt.usage?.prompt_tokens, without.usage?.prompt_tokens);
  });
}

test("qwen3: chat_template_kwargs enable_thinking false closes the thinking block in the prompt, and the reply is all content", async () => {
  const f = families[0]!;
  const messages = [{ role: "user", content: "What is 2 + 2?" }];
  const on = await ask(f, { messages, max_tokens: 4, temperature: 0 });
  const off = await ask(f, { messages, max_tokens: 4, temperature: 0, chat_template_kwargs: { enable_thinking: false } });
  const s = servers.get("qwen3")!;
  const tokens = async (text: string) => ((await (await fetch(`${s.url}/tokenize`, { method: "POST", body: JSON.stringify({ model: "tiny", content: text }), headers: { "content-type": "application/json" } })).json()) as { tokens: number[] }).tokens.length;
  const prompt = async (extra: object) => (await s.client.chat.completions.create({ model: "tiny", messages: messages as never, max_tokens: 1, temperature: 0, ...extra })).usage!.prompt_tokens;
  assert.equal(await prompt({ chat_template_kwargs: { enable_thinking: false } }) - await prompt({}), await tokens("<think>\n\n</think>\n\n"));
  assert.equal(off.reasoning, "");
  assert.equal(off.usage.completion_tokens_details?.reasoning_tokens, 0);
  assert.equal(typeof on.content, "string");
});

test("gpt-oss: reasoning_effort reaches the system message", async () => {
  const f = families[1]!;
  const messages = [{ role: "user", content: "What is 2 + 2?" }];
  const answers = new Set<string>();
  for (const effort of ["low", "medium", "high"]) answers.add(JSON.stringify(await ask(f, { messages, max_tokens: 6, temperature: 0, reasoning_effort: effort })));
  assert.equal(answers.size, 3, "each effort renders a different prompt, so greedy replies differ");
});

test("qwen3: a json_schema answer on a thinking model thinks first; the schema applies to the answer after the block", async () => {
  const f = families[0]!;
  const schema = { type: "object", properties: { answer: { type: "integer" }, sure: { type: "boolean" } }, required: ["answer", "sure"], additionalProperties: false };
  let thought = 0;
  for (let seed = 1; seed <= 5; seed++) {
    const body = {
      messages: [{ role: "user", content: "What is 2 + 2?" }], max_tokens: 60, temperature: 1, seed, logit_bias: { [f.close]: 12 },
      response_format: { type: "json_schema", json_schema: { name: "sum", schema } },
    };
    const whole = await ask(f, body);
    assert.deepEqual(await askStreamed(f, body), { ...whole, content: whole.content ?? "" }, `seed ${seed}`);
    assert.equal(whole.finish, "stop", `seed ${seed}: ${JSON.stringify(whole)}`);
    const value = JSON.parse(whole.content!) as { answer: unknown; sure: unknown };
    assert.equal(typeof value.answer, "number");
    assert.equal(typeof value.sure, "boolean");
    if (whole.reasoning !== "") thought++;
    assert.ok((whole.usage.completion_tokens_details?.reasoning_tokens ?? 0) >= 1, "the block's closing marker at least");
  }
  assert.ok(thought >= 2, `reasoning before the answer in ${thought} of 5`);
});
