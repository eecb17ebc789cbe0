import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Ajv } from "ajv";
import { post, startServer, type TestServer } from "../helpers/server.ts";

/**
 * Grammar-constrained output on the tiny model (random weights, byte vocabulary): whatever it
 * samples, JSON output and tool-call arguments parse and follow their schema.
 */
let server: TestServer;
let chat: string;
before(async () => {
  server = await startServer({ config: { inference: { context_length: 4096 } } });
  chat = `${server.url}/v1/chat/completions`;
});
after(() => server.close());

const ajv = new Ajv({ strict: false });
const messages = [{ role: "user" as const, content: "Book a table." }];

/**
 * Nested objects, enums, arrays and required fields, bounded so that random weights finish. Enums
 * keep every string ASCII; free strings, where the byte-vocabulary model writes partial characters
 * at random, are test/model/utf8-output.test.ts's.
 */
const bookingSchema = {
  type: "object",
  properties: {
    party: { type: "object", properties: { size: { type: "integer" }, names: { type: "array", items: { enum: ["ann", "bo", "cy"] }, maxItems: 3 } }, required: ["size", "names"] },
    seating: { enum: ["inside", "terrace", "bar"] },
    when: { type: "object", properties: { day: { enum: ["mon", "tue", "wed"] }, late: { type: "boolean" } }, required: ["day"] },
    note: { type: ["integer", "null"] },
  },
  required: ["party", "seating", "when"],
  additionalProperties: false,
};
const weatherSchema = { type: "object", properties: { city: { enum: ["oslo", "rome"] }, unit: { enum: ["c", "f"] }, days: { type: "integer" } }, required: ["city", "unit"] };
const tools = [
  { type: "function" as const, function: { name: "book_table", description: "Books a table.", parameters: bookingSchema } },
  { type: "function" as const, function: { name: "get_weather", description: "The weather in a city.", parameters: weatherSchema } },
];
const validators = { book_table: ajv.compile(bookingSchema), get_weather: ajv.compile(weatherSchema) } as const;

function checkArgs(name: string, args: string): void {
  const validate = validators[name as keyof typeof validators];
  assert.ok(validate, `known tool name ${name}`);
  const value: unknown = JSON.parse(args);
  assert.ok(validate(value), `${args} follows ${name}'s schema: ${JSON.stringify(validate.errors)}`);
}

test("50 streamed tool_choice required answers, parallel calls allowed or not: every call's concatenated arguments parse and validate", async () => {
  const names = new Set<string>();
  const run = async (i: number) => {
    const parallel = i % 2 === 0;
    const stream = await server.client.chat.completions.create({
      model: server.model, messages, tools, tool_choice: "required", temperature: 1, seed: i, max_tokens: 2000, stream: true,
      ...(parallel ? {} : { parallel_tool_calls: false }),
    });
    const calls: { id: string; name: string; args: string }[] = [];
    const finishes: (string | null)[] = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      assert.ok(!choice.delta.content, "no text content");
      for (const tc of choice.delta.tool_calls ?? []) {
        if (tc.id) {
          assert.equal(tc.index, calls.length, "calls start in order, one header chunk each");
          assert.equal(tc.type, "function");
          assert.equal(tc.function?.arguments, "");
          calls.push({ id: tc.id, name: tc.function!.name!, args: "" });
        } else {
          assert.equal(tc.index, calls.length - 1, "arguments belong to the call last started");
        }
        calls[tc.index]!.args += tc.function?.arguments ?? "";
      }
      if (choice.finish_reason) finishes.push(choice.finish_reason);
    }
    assert.deepEqual(finishes, ["tool_calls"]);
    assert.ok(calls.length >= 1 && calls.length <= (parallel ? 8 : 1), `${calls.length} calls, parallel ${parallel}`);
    assert.equal(new Set(calls.map((c) => c.id)).size, calls.length);
    for (const c of calls) {
      assert.match(c.id, /^call_/);
      checkArgs(c.name, c.args);
      names.add(c.name);
    }
  };
  // Two at a time: the server has two slots.
  for (let i = 0; i < 50; i += 2) await Promise.all([run(i), run(i + 1)]);
  assert.ok(names.size >= 1);
});

test("tool_choice required with parallel calls, not streamed: every call is in tool_calls with its own id", async () => {
  // Random weights end the array after its first call (test/unit/tool-call-reader.test.ts reads several).
  for (let seed = 0; seed < 4; seed++) {
    const body = { model: server.model, messages, tools, tool_choice: "required" as const, temperature: 1, seed, max_tokens: 2000 };
    const res = await server.client.chat.completions.create(body);
    const calls = res.choices[0]!.message.tool_calls ?? [];
    assert.equal(res.choices[0]!.finish_reason, "tool_calls");
    assert.ok(calls.length >= 1);
    assert.equal(new Set(calls.map((c) => c.id)).size, calls.length);
    for (const c of calls) {
      assert.ok(c.type === "function");
      checkArgs(c.function.name, c.function.arguments);
    }
    const streamed: string[] = [];
    for await (const chunk of await server.client.chat.completions.create({ ...body, stream: true })) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) streamed[tc.index] = (streamed[tc.index] ?? "") + (tc.function?.arguments ?? "");
    }
    assert.deepEqual(streamed, calls.map((c) => c.type === "function" ? c.function.arguments : ""), "streamed the same calls");
  }
});

test("a named tool_choice calls that function, streamed and not", async () => {
  for (let i = 0; i < 5; i++) {
    const res = await server.client.chat.completions.create({ model: server.model, messages, tools, tool_choice: { type: "function", function: { name: "get_weather" } }, temperature: 1, seed: 100 + i, max_tokens: 200 });
    const choice = res.choices[0]!;
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, null);
    const call = choice.message.tool_calls![0]!;
    assert.equal(call.type, "function");
    assert.match(call.id, /^call_/);
    assert.ok(call.type === "function");
    assert.equal(call.function.name, "get_weather");
    checkArgs("get_weather", call.function.arguments);
  }
  const stream = await server.client.chat.completions.create({ model: server.model, messages, tools, tool_choice: { type: "function", function: { name: "book_table" } }, temperature: 1, seed: 7, max_tokens: 400, stream: true });
  let args = "";
  let name = "";
  for await (const c of stream) for (const tc of c.choices[0]?.delta.tool_calls ?? []) { name ||= tc.function?.name ?? ""; args += tc.function?.arguments ?? ""; }
  assert.equal(name, "book_table");
  checkArgs("book_table", args);
});

test("tool calls and tool results in the history are accepted", async () => {
  const res = await server.client.chat.completions.create({
    model: server.model, tools, max_tokens: 4, temperature: 0,
    messages: [
      ...messages,
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Oslo\",\"unit\":\"c\"}" } }] },
      { role: "tool", tool_call_id: "call_1", content: "{\"temp\": 3}" },
    ],
  });
  assert.equal(typeof res.choices[0]!.message.content, "string");
  const bad = await post(chat, { model: "tiny", messages: [...messages, { role: "tool", tool_call_id: "nope", content: "x" }] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error?.param, "messages.[1].tool_call_id");
});

test("json_object and json_schema outputs parse and validate, streamed and not", async () => {
  const validate = ajv.compile(bookingSchema);
  let objects = 0;
  const run = async (i: number, stream: boolean, format: object, check: (value: unknown) => void) => {
    const json = (format as { type: string }).type === "json_object";
    const body = { model: server.model, messages, temperature: 1, seed: 1000 + i, max_tokens: json ? 800 : 1000, response_format: format };
    let text = "";
    let finish: string | null | undefined;
    if (stream) {
      for await (const c of await server.client.chat.completions.create({ ...body, stream: true } as never) as unknown as AsyncIterable<{ choices: { delta: { content?: string }; finish_reason: string | null }[] }>) {
        text += c.choices[0]?.delta.content ?? "";
        finish = c.choices[0]?.finish_reason ?? finish;
      }
    } else {
      const res = await server.client.chat.completions.create(body as never) as unknown as { choices: { message: { content: string }; finish_reason: string }[] };
      text = res.choices[0]!.message.content;
      finish = res.choices[0]!.finish_reason;
    }
    // Any JSON object lets random weights write strings of random bytes for thousands of tokens:
    // those that end within max_tokens must parse.
    if (json && finish === "length") return;
    assert.equal(finish, "stop", `the grammar completed: ${JSON.stringify(text)}`);
    check(JSON.parse(text));
    if (json) objects++;
  };
  const schemaFormat = { type: "json_schema", json_schema: { name: "booking", schema: bookingSchema, strict: true } };
  const jobs: (() => Promise<void>)[] = [];
  for (let i = 0; i < 20; i++) {
    const stream = i % 2 === 0;
    jobs.push(() => run(i, stream, { type: "json_object" }, (v) => assert.ok(typeof v === "object" && v !== null && !Array.isArray(v), "an object")));
    jobs.push(() => run(i, stream, schemaFormat, (v) => assert.ok(validate(v), JSON.stringify(validate.errors))));
  }
  for (let i = 0; i < jobs.length; i += 2) await Promise.all([jobs[i]!(), jobs[i + 1]!()]);
  assert.ok(objects >= 2, `${objects} json_object outputs completed`);
});

/** A 400 with `param`, then a good request still works. */
async function expect400(body: object, param: string, code?: string) {
  const res = await post(chat, { model: "tiny", messages, max_tokens: 2, ...body });
  assert.equal(res.status, 400, JSON.stringify(res.json));
  assert.deepEqual(Object.keys(res.json.error!).sort(), ["code", "message", "param", "type"]);
  assert.equal(res.json.error!.param, param, JSON.stringify(res.json));
  if (code) assert.equal(res.json.error!.code, code);
  const ok = await post(chat, { model: "tiny", messages, max_tokens: 2 });
  assert.equal(ok.status, 200);
}

test("schema keywords the grammar cannot enforce are refused with a 400 naming them", async () => {
  const withProps = (x: object) => ({ type: "json_schema", json_schema: { name: "x", schema: { type: "object", properties: { x: x } } } });
  await expect400({ response_format: withProps({ type: "string", pattern: "^a+$" }) }, "response_format.json_schema.schema.properties.x.pattern", "unsupported_parameter");
  await expect400({ response_format: withProps({ type: "integer", minimum: 3 }) }, "response_format.json_schema.schema.properties.x.minimum", "unsupported_parameter");
  await expect400({ response_format: withProps({ type: ["string", "null"], maxLength: 3 }) }, "response_format.json_schema.schema.properties.x.maxLength", "unsupported_parameter");
  await expect400({ response_format: withProps({ type: "string", format: "email" }) }, "response_format.json_schema.schema.properties.x.format", "unsupported_parameter");
  await expect400({ response_format: withProps({ allOf: [{ type: "string" }] }) }, "response_format.json_schema.schema.properties.x.allOf", "unsupported_parameter");
  await expect400({ response_format: withProps({ $ref: "#/definitions/a" }) }, "response_format.json_schema.schema.properties.x.$ref", "unsupported_parameter");
  await expect400({ tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { a: { type: "array", items: { type: "string" }, uniqueItems: true } } } } }] },
    "tools.[0].function.parameters.properties.a.uniqueItems", "unsupported_parameter");
  let deep: object = { type: "string" };
  for (let i = 0; i < 20; i++) deep = { type: "object", properties: { a: deep } };
  const deepRes = await post(chat, { model: "tiny", messages, response_format: { type: "json_schema", json_schema: { name: "deep", schema: deep } } });
  assert.equal(deepRes.status, 400);
  const big = { type: "object", properties: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`property_${i}`, { type: "string", description: "x".repeat(20) }])) };
  const bigRes = await post(chat, { model: "tiny", messages, response_format: { type: "json_schema", json_schema: { name: "big", schema: big } } });
  assert.ok(bigRes.status === 400 || bigRes.status === 413, `status ${bigRes.status}`);
});

test("bad tools and tool_choice are refused with a 400", async () => {
  const fn = (name: string, parameters: object = { type: "object", properties: {} }) => ({ type: "function", function: { name, parameters } });
  await expect400({ tools: [fn("bad name")] }, "tools.[0].function.name");
  await expect400({ tools: [fn("a".repeat(65))] }, "tools.[0].function.name");
  await expect400({ tools: Array.from({ length: 129 }, (_, i) => fn(`f${i}`)) }, "tools");
  await expect400({ tools: [fn("f"), fn("f")] }, "tools.[1].function.name");
  await expect400({ tools: [fn("f", { type: "string" })] }, "tools.[0].function.parameters");
  await expect400({ tools: [fn("f")], tool_choice: { type: "function", function: { name: "g" } } }, "tool_choice");
  await expect400({ tool_choice: "required" }, "tool_choice");
  await expect400({ tools: [fn("f")], tool_choice: "required", stop: ["x"] }, "stop");
  await expect400({ response_format: { type: "xml" } }, "response_format.type");
});

test("tool_choice auto: a call the reply writes in the template's syntax comes back as tool_calls whose arguments validate", async () => {
  // Random weights never start a call on their own: an assistant prefill (continued by the reply)
  // starts it in node-llama-cpp's syntax for this template, `||call: name(args)`; the reply must
  // finish it, with the name and then the arguments constrained by the tools' grammars.
  const validators = new Map(tools.map((t) => [t.function.name, ajv.compile(t.function.parameters)]));
  for (const [seed, prefill] of [[1, "||call: "], [2, "||call: "], [3, "||call: get_weather("], [4, "Let me look. ||call:"]] as const) {
    const body = { model: server.model, messages: [...messages, { role: "assistant" as const, content: prefill }], tools, temperature: 1, seed, max_tokens: 200 };
    const whole = await server.client.chat.completions.create(body);
    const choice = whole.choices[0]!;
    assert.equal(choice.finish_reason, "tool_calls", `prefill ${JSON.stringify(prefill)}: ${JSON.stringify(choice.message)}`);
    const [call, ...more] = choice.message.tool_calls ?? [];
    assert.equal(more.length, 0);
    assert.ok(call?.type === "function");
    const validate = validators.get(call.function.name);
    assert.ok(validate, `a declared tool: ${call.function.name}`);
    if (prefill.includes("get_weather")) assert.equal(call.function.name, "get_weather");
    assert.ok(validate(JSON.parse(call.function.arguments)), JSON.stringify(validate.errors));
    assert.ok(!choice.message.content?.includes("||call"), "the call's syntax is not in the content");

    let args = "";
    let name = "";
    let finish: string | null = null;
    for await (const chunk of await server.client.chat.completions.create({ ...body, stream: true })) {
      const c = chunk.choices[0];
      for (const d of c?.delta.tool_calls ?? []) {
        name += d.function?.name ?? "";
        args += d.function?.arguments ?? "";
      }
      finish = c?.finish_reason ?? finish;
    }
    assert.equal(finish, "tool_calls");
    assert.deepEqual({ name, args }, { name: call.function.name, args: call.function.arguments }, "streamed the same call");
  }
});

test("tool_choice auto: a model that does not call answers in text (stop or length), streamed the same as not", async () => {
  for (const seed of [1, 2, 3]) {
    const body = { model: server.model, messages, tools, temperature: 1, seed, max_tokens: 40 };
    const whole = await server.client.chat.completions.create(body);
    const choice = whole.choices[0]!;
    assert.ok(choice.finish_reason === "stop" || choice.finish_reason === "length", `finish ${choice.finish_reason}`);
    assert.equal(typeof choice.message.content, "string");
    assert.equal(choice.message.tool_calls, undefined);
    let streamed = "";
    let finish: string | null = null;
    for await (const chunk of await server.client.chat.completions.create({ ...body, stream: true })) {
      const c = chunk.choices[0];
      if (!c) continue;
      assert.equal(c.delta.tool_calls, undefined);
      streamed += c.delta.content ?? "";
      finish = c.finish_reason ?? finish;
    }
    assert.equal(streamed, choice.message.content);
    assert.equal(finish, choice.finish_reason);
  }
  // The tools are still described in the prompt: tool_choice none leaves them out, so the prompts differ.
  const auto = await server.client.chat.completions.create({ model: server.model, messages, tools, max_tokens: 1 });
  const none = await server.client.chat.completions.create({ model: server.model, messages, tools, tool_choice: "none", max_tokens: 1 });
  assert.ok(auto.usage!.prompt_tokens > none.usage!.prompt_tokens);
});

test("a large upper bound on repetitions costs the grammar nothing and is accepted", async () => {
  const schema = { type: "object", properties: { a: { type: "array", items: { type: "integer" }, minItems: 1, maxItems: 100_000 } }, required: ["a"] };
  const res = await post(chat, { model: "tiny", messages, max_tokens: 8, response_format: { type: "json_schema", json_schema: { name: "s", schema } } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
});

test("the openai SDK's stream helper assembles forced and auto calls into the message the non-streamed answer has", async () => {
  const forced = { model: server.model, messages, tools, tool_choice: { type: "function" as const, function: { name: "get_weather" } }, temperature: 1, seed: 100, max_tokens: 200 };
  const auto = { model: server.model, messages: [...messages, { role: "assistant" as const, content: "||call: get_weather(" }], tools, temperature: 1, seed: 3, max_tokens: 200 };
  const seen = (c: { message: { content: string | null; tool_calls?: { type: string; function?: { name: string; arguments: string } }[] }; finish_reason: string | null }) =>
    ({ content: c.message.content, calls: (c.message.tool_calls ?? []).map((t) => t.function), finish: c.finish_reason });
  for (const body of [forced, auto]) {
    const whole = seen((await server.client.chat.completions.create(body)).choices[0]!);
    assert.equal(whole.finish, "tool_calls");
    assert.equal(whole.calls.length, 1);
    const streamed = seen((await server.client.chat.completions.stream(body).finalChatCompletion()).choices[0]!);
    // The stream helper starts content at "" from the first delta; the whole message says null.
    assert.deepEqual({ ...streamed, content: streamed.content || null }, whole);
  }
});
