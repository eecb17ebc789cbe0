/**
 * Seeded generators of malformed and adversarial request bodies for the HTTP fuzz test. A case is
 * either a JSON value (most start from a valid body of the route and are then mutated, so that
 * validation passes often enough to reach the handlers) or raw bytes with a content type.
 */

export type Rng = () => number;

/** mulberry32: small, fast and the same sequence for the same seed on every machine. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const chance = (r: Rng, p: number) => r() < p;

export interface FuzzCase {
  path: string;
  /** A JSON value to send, or raw text with its content type. */
  body: { json: unknown } | { raw: string | Uint8Array; contentType: string | null };
  /** Whether the case may stream (SSE), so the reader parses `data:` lines. */
  stream: boolean;
}

const EDGE_NUMBERS = [0, -0, -1, 1, 1.5, 1e308, -1e308, 5e-324, 2 ** 31, 2 ** 32, 2 ** 53 + 1, -(2 ** 53 + 1), 2 ** 63, 1e21, 0.1, 100, 101, -100.5, 8, 9, 2 ** 30, 2 ** 30 + 1];
const NASTY_STRINGS = [
  "", " ", "u\u0000", "\u0000", "\ud800", "x\udc00y", "\udbff\udfff", "\u{1F600}", "\u202e\u2066", "\u2028\u2029", "\ufeff", "é\u0301",
  "../../etc/passwd", "..%2f..%2f", "/abs/path", "C:\\x", "%00", "${x}", "{{x}}", "<|im_end|>", "</s>", "\\", "\"", "\n\r\t",
  "tiny", "tiny\u0000", "TINY", "tiny ", "sha256:../x", "hf:", "s3://", "ftp://x/y.gguf", "file:///etc/passwd", "conv_", "conv_\u0000",
];

function nastyString(r: Rng): string {
  switch (int(r, 6)) {
    case 0: return pick(r, NASTY_STRINGS).repeat(1 + int(r, chance(r, 0.1) ? 5000 : 3));
    case 1: return "a".repeat(pick(r, [63, 64, 65, 255, 256, 257, 511, 512, 513, 4096, 65537, 300_000]));
    case 2: return Array.from({ length: 1 + int(r, 40) }, () => String.fromCharCode(int(r, 0x10000))).join("");
    case 3: return String.fromCodePoint(...Array.from({ length: 1 + int(r, 20) }, () => int(r, 0x110000)).filter((c) => c < 0xd800 || c > 0xdfff));
    default: return pick(r, NASTY_STRINGS);
  }
}

function deep(r: Rng, depth: number, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = chance(r, 0.5) ? [v] : { a: v };
  return v;
}

/** Any JSON value, biased to the edges. */
export function nastyValue(r: Rng, level = 0): unknown {
  switch (int(r, level > 2 ? 4 : 9)) {
    case 0: return pick(r, EDGE_NUMBERS);
    case 1: return nastyString(r);
    case 2: return pick(r, [null, true, false]);
    case 3: return pick(r, [[], {}, [null], [""], [0], { "": null }]);
    case 4: return Array.from({ length: pick(r, [1, 2, 5, 300, 301, 5000, chance(r, 0.2) ? 200_000 : 10]) }, () => (chance(r, 0.5) ? int(r, 1 << 20) : "x"));
    case 5: return deep(r, pick(r, level === 0 ? [10, 100, 1000, 5000] : [10, 100]), nastyValue(r, level + 1));
    case 6: return Object.fromEntries(Array.from({ length: pick(r, [1, 10, 301, 10_000]) }, (_, i) => [chance(r, 0.3) ? nastyString(r) : String(i), nastyValue(r, level + 3)]));
    case 7: return Array.from({ length: 1 + int(r, 6) }, () => nastyValue(r, level + 1));
    default: return { [nastyString(r)]: nastyValue(r, level + 1) };
  }
}

/** JSON schemas that are hard to turn into a grammar: deep, recursive, huge, bad patterns. */
export function nastySchema(r: Rng): unknown {
  const n = pick(r, [1, 10, 100, 2000]);
  switch (int(r, 14)) {
    case 0: return deep(r, pick(r, [17, 100, 3000]), { type: "string" });
    case 1: {
      let s: unknown = { type: "string" };
      for (let i = 0; i < pick(r, [15, 17, 200]); i++) s = { type: "object", properties: { a: s }, required: ["a"] };
      return s;
    }
    case 2: return { $ref: "#" };
    case 3: return { type: "object", properties: { a: { $ref: "#/$defs/x" } }, $defs: { x: { $ref: "#/$defs/y" }, y: { $ref: "#/$defs/x" } } };
    case 4: return { type: "object", properties: { a: { $ref: "#/properties/a" } } };
    case 5: return { enum: Array.from({ length: n * 10 }, (_, i) => `v${i}`) };
    case 6: return { type: "string", pattern: pick(r, ["(a+)+$", "[", "(?<=x)y", "\\", "^(a|aa)*$", "\\p{L}+", "a{1000000}"]) };
    case 7: return { type: "object", properties: Object.fromEntries(Array.from({ length: n * 5 }, (_, i) => [`p${i}`, { type: "integer" }])), required: ["nope"] };
    case 8: return { type: "array", items: { type: "string" }, minItems: pick(r, [1e9, -1, 1.5, 2 ** 53]), maxItems: pick(r, [0, 1e308, -5]) };
    case 9: return { type: ["string", 5, null], minLength: "x", maximum: "y", format: "weird", anyOf: [], allOf: [{ $ref: "#" }] };
    case 10: return { anyOf: Array.from({ length: n }, (_, i) => ({ const: i })) };
    case 11: return { $ref: pick(r, ["http://example.invalid/s.json", "#/nope", "#/$defs/../x", "", "#/definitions/%00"]) };
    case 12: return { type: "object", additionalProperties: deep(r, 50, { type: "object", additionalProperties: true }), patternProperties: { "(": {} } };
    default: return nastyValue(r);
  }
}

function nastyTools(r: Rng): unknown {
  const tool = () => ({
    type: chance(r, 0.9) ? "function" : nastyValue(r),
    function: {
      name: chance(r, 0.7) ? `f${int(r, 1000)}` : nastyString(r),
      ...(chance(r, 0.5) ? { description: nastyString(r) } : {}),
      ...(chance(r, 0.8) ? { parameters: chance(r, 0.3) ? { type: "object", properties: { x: nastySchema(r) } } : nastySchema(r) } : {}),
      ...(chance(r, 0.2) ? { strict: nastyValue(r) } : {}),
    },
  });
  return Array.from({ length: pick(r, [0, 1, 2, 128, 129]) }, tool);
}

const MESSAGES = [{ role: "user", content: "hi" }];

/** A valid body of each JSON route, the start of most cases; small max_tokens keeps generations cheap. */
const VALID: Record<string, (r: Rng) => Record<string, unknown>> = {
  "/v1/chat/completions": (r) => ({ model: "tiny", messages: MESSAGES, max_tokens: 2, ...(chance(r, 0.4) ? { stream: true } : {}) }),
  "/chat/completions": (r) => ({ model: "tiny", messages: MESSAGES, max_tokens: 2, ...(chance(r, 0.4) ? { stream: true } : {}) }),
  "/v1/completions": (r) => ({ model: "tiny", prompt: "hi", max_tokens: 2, ...(chance(r, 0.4) ? { stream: true } : {}) }),
  "/v1/embeddings": () => ({ model: "tiny", input: "hi" }),
  // The fuzzed model is no reranker: past validation, every rerank body meets model_not_reranker.
  "/v1/rerank": (r) => ({ model: "tiny", query: "hi", documents: ["a", "b"], ...(chance(r, 0.4) ? { top_n: 1, return_documents: true } : {}) }),
  // The other protocols: the same engine behind each, each with its own error shape (checked in
  // http-fuzz.test.ts). Responses are not stored: a stored body of megabytes grows the embedded
  // database's WebAssembly memory for good, which the run's RSS check would take for a leak.
  "/v1/responses": (r) => ({ model: "tiny", input: "hi", max_output_tokens: 2, store: false, ...(chance(r, 0.4) ? { stream: true } : {}) }),
  "/v1/messages": (r) => ({ model: "tiny", messages: MESSAGES, max_tokens: 2, ...(chance(r, 0.4) ? { stream: true } : {}) }),
  "/v1/messages/count_tokens": () => ({ model: "tiny", messages: MESSAGES }),
  "/api/chat": (r) => ({ model: "tiny", messages: MESSAGES, options: { num_predict: 2 }, stream: chance(r, 0.5) }),
  "/api/generate": (r) => ({ model: "tiny", prompt: "hi", options: { num_predict: 2 }, stream: chance(r, 0.5) }),
  "/tokenize": () => ({ model: "tiny", content: "hi" }),
  "/detokenize": () => ({ model: "tiny", tokens: [1, 2, 3] }),
  "/v1/conversations": () => ({ title: "t", messages: [{ role: "user", content: "hi" }] }),
  "/v1/admin/keys": (r) => ({ name: `k${int(r, 1e9)}`, models: ["tiny"], rpm: 1000 }),
  // Only sources that are refused before any download: local paths, unknown schemes, malformed names.
  "/v1/models/pull": (r) => ({ source: pick(r, ["/etc/passwd", "../x.gguf", "ftp://x/y.gguf", "hf:", "hf:a", "s3://", "file:///x.gguf", "x.gguf"]), stream: chance(r, 0.5) }),
};
export const ROUTES = Object.keys(VALID);

/** Fields worth mutating per route, besides random ones. */
const FIELDS: Record<string, (r: Rng) => [string, unknown]> = {
  generation: (r) => pick(r, [
    ["model", nastyValue(r)], ["user", nastyString(r)], ["stop", chance(r, 0.5) ? Array.from({ length: pick(r, [0, 1, 4, 5, 10_000]) }, () => nastyString(r)) : nastyValue(r)],
    ["n", pick(r, [0, 1, 2, 8, 9, 1e6, -1, 1.5, 2 ** 53 + 1])], ["max_tokens", pick(r, [...EDGE_NUMBERS, "10", null])],
    ["max_completion_tokens", pick(r, EDGE_NUMBERS)], ["temperature", pick(r, EDGE_NUMBERS)], ["top_p", pick(r, EDGE_NUMBERS)],
    ["top_k", pick(r, EDGE_NUMBERS)], ["min_p", pick(r, EDGE_NUMBERS)], ["seed", pick(r, EDGE_NUMBERS)],
    ["presence_penalty", pick(r, EDGE_NUMBERS)], ["frequency_penalty", pick(r, EDGE_NUMBERS)], ["keep_alive", pick(r, ["-1", "0", "1e308", "5m", 1e308, -5, "9999999h", nastyString(r)])],
    ["logit_bias", chance(r, 0.5) ? { [pick(r, ["-1", "0", "255", "256", "99999999999", "4294967296", "a", "01", ""])]: pick(r, EDGE_NUMBERS) }
      : Object.fromEntries(Array.from({ length: pick(r, [300, 301, 5000]) }, (_, i) => [String(i), -100]))],
    ["stream_options", nastyValue(r)], ["logprobs", pick(r, [true, 0, 5, 6, 20, 21, -1])], ["top_logprobs", pick(r, [0, 20, 21, -1, 1e9])],
    ["echo", nastyValue(r)], ["suffix", nastyString(r)], ["best_of", pick(r, [0, 1, 2])], ["stream", nastyValue(r)],
  ] as [string, unknown][]),
  chat: (r) => pick(r, [
    ["messages", chance(r, 0.5) ? nastyValue(r) : Array.from({ length: pick(r, [0, 1, 4097]) }, () => MESSAGES[0])],
    ["messages", [{ role: pick(r, ["user", "tool", "assistant", "system", "developer", "wizard", ""]), content: chance(r, 0.5) ? nastyString(r) : nastyValue(r), ...(chance(r, 0.3) ? { tool_calls: nastyValue(r) } : {}), ...(chance(r, 0.3) ? { tool_call_id: nastyValue(r) } : {}) }]],
    ["messages", [{ role: "user", content: [{ type: pick(r, ["text", "image_url", "input_audio", ""]), text: nastyString(r), image_url: { url: pick(r, ["file:///etc/passwd", "../x", "data:image/png;base64,AAAA"]) } }] }]],
    ["response_format", { type: "json_schema", json_schema: { name: chance(r, 0.8) ? "s" : nastyString(r), schema: nastySchema(r), strict: true } }],
    ["response_format", { type: "json_schema", json_schema: { name: "s", schema: nastySchema(r) } }],
    ["response_format", chance(r, 0.5) ? { type: pick(r, ["json_object", "text", "json_schema", "grammar"]) } : nastyValue(r)],
    ["tools", nastyTools(r)], ["tools", nastyTools(r)],
    ["tool_choice", chance(r, 0.5) ? { type: "function", function: { name: pick(r, ["f1", "nope", nastyString(r)]) } } : nastyValue(r)],
    ["conversation", nastyString(r)], ["grammar", nastyString(r)], ["chat_template_kwargs", { tokenize: true }],
  ] as [string, unknown][]),
  "/v1/completions": (r) => ["prompt", chance(r, 0.5) ? nastyValue(r) : Array.from({ length: pick(r, [1, 2, 5000]) }, () => pick(r, [0, 1, -1, 255, 256, 2 ** 31 - 1, 2 ** 31, 1.5]))],
  "/v1/embeddings": (r) => pick(r, [["input", nastyValue(r)], ["input", [[pick(r, [-1, 0, 256, 2 ** 31])]]], ["encoding_format", nastyValue(r)], ["dimensions", pick(r, EDGE_NUMBERS)], ["user", nastyString(r)], ["model", nastyString(r)]] as [string, unknown][]),
  "/v1/rerank": (r) => pick(r, [["query", nastyValue(r)], ["query", nastyString(r)], ["documents", nastyValue(r)], ["documents", [nastyString(r), { text: nastyValue(r) }]],
    ["documents", Array.from({ length: pick(r, [0, 1, 1000, 1001]) }, () => "d")], ["top_n", pick(r, EDGE_NUMBERS)], ["return_documents", nastyValue(r)], ["model", nastyString(r)]] as [string, unknown][]),
  "/v1/responses": (r) => pick(r, [
    ["input", nastyValue(r)], ["input", [{ type: pick(r, ["message", "function_call", "function_call_output", "reasoning", "item_reference", "", "x"]), role: pick(r, ["user", "assistant", "tool", ""]), content: chance(r, 0.5) ? nastyString(r) : [{ type: pick(r, ["input_text", "input_image", "output_text", ""]), text: nastyValue(r) }], call_id: nastyValue(r), name: nastyValue(r), arguments: nastyValue(r), output: nastyValue(r) }]],
    ["instructions", nastyValue(r)], ["tools", [{ type: pick(r, ["function", "web_search", ""]), name: pick(r, ["f", nastyString(r)]), parameters: nastySchema(r) }]], ["tool_choice", nastyValue(r)],
    ["text", { format: { type: pick(r, ["json_schema", "json_object", "text", "x"]), name: "s", schema: nastySchema(r) } }], ["previous_response_id", nastyString(r)],
    ["max_output_tokens", pick(r, EDGE_NUMBERS)], ["temperature", pick(r, EDGE_NUMBERS)], ["reasoning", nastyValue(r)], ["metadata", nastyValue(r)], ["background", nastyValue(r)], ["truncation", nastyValue(r)],
  ] as [string, unknown][]),
  "/v1/messages": (r) => pick(r, [
    ["messages", nastyValue(r)], ["messages", [{ role: pick(r, ["user", "assistant", "system", ""]), content: chance(r, 0.5) ? nastyString(r) : [{ type: pick(r, ["text", "image", "tool_use", "tool_result", "thinking", ""]), text: nastyValue(r), id: nastyValue(r), name: nastyValue(r), input: nastyValue(r), tool_use_id: nastyValue(r) }] }]],
    ["system", nastyValue(r)], ["max_tokens", pick(r, EDGE_NUMBERS)], ["stop_sequences", nastyValue(r)], ["tools", [{ name: pick(r, ["f", nastyString(r)]), input_schema: nastySchema(r) }]],
    ["tool_choice", nastyValue(r)], ["thinking", nastyValue(r)], ["temperature", pick(r, EDGE_NUMBERS)], ["top_k", pick(r, EDGE_NUMBERS)], ["metadata", nastyValue(r)],
  ] as [string, unknown][]),
  "/v1/messages/count_tokens": (r) => pick(r, [["messages", nastyValue(r)], ["system", nastyValue(r)], ["tools", nastyValue(r)], ["model", nastyString(r)]] as [string, unknown][]),
  "/api/chat": (r) => pick(r, [
    ["messages", nastyValue(r)], ["messages", [{ role: pick(r, ["user", "assistant", "tool", "system", ""]), content: nastyValue(r), images: nastyValue(r), tool_calls: nastyValue(r), thinking: nastyValue(r) }]],
    ["options", nastyValue(r)], ["options", { num_predict: pick(r, EDGE_NUMBERS), temperature: pick(r, EDGE_NUMBERS), num_ctx: pick(r, EDGE_NUMBERS), stop: nastyValue(r) }],
    ["format", chance(r, 0.5) ? nastySchema(r) : nastyValue(r)], ["tools", nastyTools(r)], ["think", nastyValue(r)], ["model", nastyString(r)],
  ] as [string, unknown][]),
  "/api/generate": (r) => pick(r, [["prompt", nastyValue(r)], ["system", nastyValue(r)], ["raw", nastyValue(r)], ["suffix", nastyValue(r)], ["context", nastyValue(r)], ["format", nastyValue(r)], ["options", nastyValue(r)], ["model", nastyString(r)]] as [string, unknown][]),
  "/tokenize": (r) => pick(r, [["content", nastyValue(r)], ["content", nastyString(r)], ["add_special", nastyValue(r)], ["with_pieces", true], ["model", nastyValue(r)]] as [string, unknown][]),
  "/detokenize": (r) => pick(r, [["tokens", nastyValue(r)], ["tokens", [pick(r, [-1, 256, 1e9, 2 ** 31 - 1, 1.5])]], ["model", nastyValue(r)]] as [string, unknown][]),
  "/v1/conversations": (r) => pick(r, [["title", nastyValue(r)], ["model", nastyValue(r)], ["system_prompt", nastyValue(r)], ["settings", nastyValue(r)], ["messages", nastyValue(r)],
    ["messages", [{ role: "user", content: nastyString(r), metadata: nastyValue(r) }]]] as [string, unknown][]),
  "/v1/admin/keys": (r) => pick(r, [["name", nastyValue(r)], ["name", nastyString(r)], ["models", nastyValue(r)], ["models", [nastyString(r)]], ["rpm", pick(r, EDGE_NUMBERS)], ["tpm", pick(r, EDGE_NUMBERS)], ["max_parallel", pick(r, EDGE_NUMBERS)]] as [string, unknown][]),
  "/v1/models/pull": (r) => pick(r, [["name", nastyValue(r)], ["name", nastyString(r)], ["stream", nastyValue(r)]] as [string, unknown][]),
};

function mutate(r: Rng, path: string, body: Record<string, unknown>): Record<string, unknown> {
  const generation = path.includes("completions");
  for (let i = 1 + int(r, 3); i > 0; i--) {
    const roll = r();
    if (roll < 0.08) delete body[pick(r, Object.keys(body).concat("model"))];
    else if (roll < 0.15) body[nastyString(r).slice(0, 64) || "x"] = nastyValue(r);
    else {
      const gen = generation && chance(r, 0.5) ? FIELDS.generation! : FIELDS[path] ?? (path.includes("chat") ? FIELDS.chat! : FIELDS.generation!);
      const [k, v] = gen(r);
      // Never pull anything: a mutated source could name a real place.
      if (path === "/v1/models/pull" && k === "source") continue;
      body[k] = v;
    }
  }
  return body;
}

const CONTENT_TYPES = [null, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "application/xml", "applic\u0000ation/json", "*/*", "application/json;;;", "x".repeat(2000)];

function rawCase(r: Rng, valid: string): { raw: string | Uint8Array; contentType: string | null } {
  const contentType = chance(r, 0.6) ? "application/json" : pick(r, CONTENT_TYPES);
  switch (int(r, 9)) {
    case 0: return { raw: valid.slice(0, int(r, valid.length)), contentType };
    case 1: return { raw: pick(r, ["", "{", "}", "[]", "null", "1", "\"x\"", "{\"a\":1,}", "{'a':1}", "NaN", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1e999}", "{\"__proto__\":{\"x\":1}}", "{\"constructor\":{\"prototype\":{}}}"]), contentType };
    case 2: return { raw: new Uint8Array(Array.from({ length: 1 + int(r, 200) }, () => int(r, 256))), contentType };
    case 3: return { raw: Buffer.concat([Buffer.from(valid.slice(0, -2)), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from("\"}")]), contentType };
    case 4: return { raw: "[".repeat(pick(r, [1000, 100_000])) + "]".repeat(pick(r, [0, 1000])), contentType };
    case 5: return { raw: `{"a":${"{\"a\":".repeat(20_000)}1${"}".repeat(20_001)}`, contentType };
    case 6: return { raw: valid.replace(/"model":"tiny"/, "\"model\":\"\\u0000\\ud800\""), contentType };
    case 7: return { raw: `{${valid.slice(1, -1)},${valid.slice(1, -1)}}`, contentType }; // duplicate keys
    default: return { raw: valid, contentType: pick(r, CONTENT_TYPES) };
  }
}

/** The `i`th case of a run: reproducible from (seed, i) alone. */
export function fuzzCase(seed: number, i: number): FuzzCase {
  const r = rng(seed * 1_000_003 + i);
  const path = pick(r, ROUTES);
  const valid = VALID[path]!(r);
  const roll = r();
  if (roll < 0.12) return { path, body: rawCase(r, JSON.stringify(valid)), stream: false };
  if (roll < 0.18) return { path, body: { json: nastyValue(r) }, stream: false };
  const body = mutate(r, path, valid);
  return { path, body: { json: body }, stream: body.stream === true };
}
