import assert from "node:assert/strict";
import { test } from "node:test";
import { ToolCallReader, type ToolCallPiece, type ToolCallShape } from "../../src/api/routes/chat-completions/toolCalls.ts";

/** Feeds `text` in pieces of `size` characters and returns what the reader reported. */
function read(shape: ToolCallShape, text: string, size: number) {
  const reader = new ToolCallReader(shape);
  const pieces: ToolCallPiece[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(...reader.push(text.slice(i, i + size)));
  return { calls: reader.calls, pieces };
}

const streamedCalls = (pieces: ToolCallPiece[]) => {
  const calls: { name: string; arguments: string }[] = [];
  for (const p of pieces) {
    if (p.kind === "start") {
      assert.equal(p.position, calls.length, "calls start in order");
      calls.push({ name: p.name, arguments: "" });
    } else calls[p.position]!.arguments += p.text;
  }
  return calls;
};

test("an array of calls is read as several calls, whatever the chunking, streamed as it is read", () => {
  const text = '[\n  {"name": "get_weather", "arguments": {"city": "oslo", "tags": ["a}", "b]"]}} ,{ "name":"book_table","arguments":{}}\n]  ';
  for (const size of [1, 2, 3, 7, text.length]) {
    const { calls, pieces } = read({ kind: "array" }, text, size);
    assert.deepEqual(calls, [
      { name: "get_weather", arguments: '{"city": "oslo", "tags": ["a}", "b]"]}' },
      { name: "book_table", arguments: "{}" },
    ], `chunks of ${size}`);
    assert.deepEqual(streamedCalls(pieces), calls);
  }
});

test("one wrapped call, and a named function's bare arguments, end where their arguments close", () => {
  assert.deepEqual(read({ kind: "wrapped" }, '{"name": "f", "arguments": {"a": {"b": 1}}}\n\n', 4).calls, [{ name: "f", arguments: '{"a": {"b": 1}}' }]);
  assert.deepEqual(read({ kind: "arguments", name: "g" }, '  {"x": "}"}\n\n\n', 1).calls, [{ name: "g", arguments: '{"x": "}"}' }]);
});

test("output cut short (max_tokens) leaves the call incomplete, never a call made up", () => {
  const { calls } = read({ kind: "array" }, '[{"name": "f", "arguments": {"a": 1}}, {"na', 5);
  assert.deepEqual(calls, [{ name: "f", arguments: '{"a": 1}' }]);
});
