import assert from "node:assert/strict";
import { test } from "node:test";
import { ToolCallDetector, type ToolCallSyntax } from "../../src/engine/ToolCallDetector.ts";

/** node-llama-cpp's default call syntax (a template without its own): `||call: name({...})`. */
const syntax: ToolCallSyntax = { prefixes: ["||call: ", "||call:"], paramsPrefix: "(", optionalPrefixSpace: true };
const names = ["get_weather", "book_table"];

/** Feeds pieces (one per token); returns the content released and the phases seen after each piece. */
function feed(d: ToolCallDetector, pieces: string[]): { content: string; phases: string[] } {
  let content = "";
  const phases: string[] = [];
  for (const p of pieces) {
    content += d.push(p);
    phases.push(d.phase.kind);
  }
  return { content, phases };
}

test("plain text passes through, nothing held at the end", () => {
  const d = new ToolCallDetector(syntax, names);
  const { content } = feed(d, ["Hello", " world", "!"]);
  assert.equal(content + d.flush(), "Hello world!");
  assert.equal(d.phase.kind, "text");
});

test("a prefix split over several tokens starts a call; name, then arguments, then done", () => {
  const d = new ToolCallDetector(syntax, names);
  const { content, phases } = feed(d, ["|", "|", "ca", "ll", ":", " "]);
  assert.equal(content, "");
  assert.equal(phases.at(-1), "name");
  const phase = d.phase;
  assert.ok(phase.kind === "name");
  // "||call:" (an alternate form) started it; the space then narrowed the names to those after a space.
  assert.deepEqual([...phase.allowed].sort(), ["book_table(", "get_weather("]);
  feed(d, ["get", "_weather", "("]);
  assert.deepEqual(d.phase, { kind: "params", name: "get_weather" });
  feed(d, ["{\"city\"", ": \"o}{slo\"", ", \"n\": [1, {\"a\": 2}]", "}"]);
  assert.deepEqual(d.phase, { kind: "done", call: { name: "get_weather", arguments: "{\"city\": \"o}{slo\", \"n\": [1, {\"a\": 2}]}" } });
  assert.equal(d.push("more"), "");
  assert.equal(d.flush(), "");
});

test("text held back while it could be a prefix is released once it is not", () => {
  const d = new ToolCallDetector(syntax, names);
  const a = d.push("a |");
  assert.equal(a, "a ");
  const b = d.push("|c");
  assert.equal(b, "");
  const c = d.push("x done");
  assert.equal(c, "||cx done");
  assert.equal(d.phase.kind, "text");
  assert.equal(d.flush(), "");
});

test("a possible prefix at the end of generation is content", () => {
  const d = new ToolCallDetector(syntax, names);
  assert.equal(d.push("see ||ca"), "see ");
  assert.equal(d.flush(), "||ca");
});

test("a call after some text: the text is content, the prefix is not", () => {
  const d = new ToolCallDetector(syntax, names);
  const { content } = feed(d, ["Let me check. ", "||call: book", "_table(", "{}", ")"]);
  assert.equal(content, "Let me check. ");
  assert.deepEqual(d.phase, { kind: "done", call: { name: "book_table", arguments: "{}" } });
});

test("a prefix followed by an unknown name is a false start: all of it is content, and a later call is still found", () => {
  const d = new ToolCallDetector(syntax, names);
  let content = d.push("x ||call: nope");
  assert.equal(d.phase.kind, "text");
  content += d.push(" then ||call:get_weather({\"a\":1})");
  assert.equal(content, "x ||call: nope then ");
  assert.deepEqual(d.phase, { kind: "done", call: { name: "get_weather", arguments: "{\"a\":1}" } });
});

test("the name phase narrows the allowed continuations as the name comes", () => {
  const d = new ToolCallDetector(syntax, names);
  d.push("||call: ");
  d.push("ge");
  assert.deepEqual(d.phase, { kind: "name", allowed: ["t_weather("] });
});

test("an unfinished call at the end of generation is content", () => {
  const d = new ToolCallDetector(syntax, names);
  assert.equal(d.push("||call: get_weather({\"ci"), "");
  assert.equal(d.phase.kind, "params");
  assert.equal(d.flush(), "||call: get_weather({\"ci");
});

test("a template's multi-character syntax (Qwen-like) with one call", () => {
  const qwen: ToolCallSyntax = { prefixes: ["<tool_call>\n{\"name\": \""], paramsPrefix: "\", \"arguments\": ", optionalPrefixSpace: false };
  const d = new ToolCallDetector(qwen, names);
  const { content } = feed(d, ["Sure.\n", "<tool_call>", "\n{\"", "name\": \"", "get_weather", "\", \"arguments\": ", "{\"city\": \"rome\"}", "}\n</tool_call>"]);
  assert.equal(content, "Sure.\n");
  assert.deepEqual(d.phase, { kind: "done", call: { name: "get_weather", arguments: "{\"city\": \"rome\"}" } });
});

test("several calls in one reply where the syntax allows it: the suffix and the next start are not content", () => {
  const qwen = { prefixes: ["<tool_call>"], namePrefixes: { "<tool_call>": '\n{"name": "' }, paramsPrefix: '", "arguments": ', optionalPrefixSpace: false, next: { suffix: "}\n</tool_call>", between: "\n", prefix: "<tool_call>", end: "" } };
  const d = new ToolCallDetector(qwen, ["a", "b"]);
  const calls: { name: string; arguments: string }[] = [];
  let content = "";
  const text = 'Sure.<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>';
  for (const c of text) {
    content += d.push(c);
    const phase = d.phase;
    if (phase.kind === "done") {
      calls.push(phase.call);
      assert.ok(d.next());
    }
  }
  content += d.flush();
  assert.deepEqual(calls, [{ name: "a", arguments: '{"x": 1}' }, { name: "b", arguments: "{}" }]);
  assert.equal(content, "Sure.");
});
