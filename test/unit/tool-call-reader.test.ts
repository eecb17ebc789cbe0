import assert from "node:assert/strict";
import { test } from "node:test";
import { collectToolCall, ToolCallReader } from "../../src/engine/ToolCallReader.ts";
import type { ToolCall, ToolCallEvent, ToolCallShape } from "../../src/engine/types.ts";

/** Feeds `text` in pieces of `size` characters and returns the calls the reader's events make up, and the events. */
function read(shape: ToolCallShape, text: string, size: number) {
  const reader = new ToolCallReader(shape);
  const events: ToolCallEvent[] = [];
  for (let i = 0; i < text.length; i += size) events.push(...reader.push(text.slice(i, i + size)));
  const calls: ToolCall[] = [];
  for (const ev of events) collectToolCall(calls, ev);
  return { calls: calls.map(({ name, arguments: args }) => ({ name, arguments: args })), events };
}

/** Checks the events' order: each call starts in turn, its deltas follow, and it is done before the next starts. */
function checkOrder(events: ToolCallEvent[]): void {
  let open = -1;
  let started = 0;
  for (const ev of events) {
    if (ev.type === "tool_call_start") {
      assert.equal(open, -1, "the call before is done");
      assert.equal(ev.index, started++, "calls start in order");
      assert.match(ev.id, /^call_/);
      open = ev.index;
    } else {
      assert.equal(ev.index, open, "arguments belong to the call last started");
      if (ev.type === "tool_call_done") open = -1;
    }
  }
}

test("an array of calls is read as several calls, whatever the chunking, streamed as it is read", () => {
  const text = '[\n  {"name": "get_weather", "arguments": {"city": "oslo", "tags": ["a}", "b]"]}} ,{ "name":"book_table","arguments":{}}\n]  ';
  for (const size of [1, 2, 3, 7, text.length]) {
    const { calls, events } = read({ kind: "array" }, text, size);
    assert.deepEqual(calls, [
      { name: "get_weather", arguments: '{"city": "oslo", "tags": ["a}", "b]"]}' },
      { name: "book_table", arguments: "{}" },
    ], `chunks of ${size}`);
    checkOrder(events);
    assert.equal(events.filter((e) => e.type === "tool_call_done").length, 2);
  }
});

test("one wrapped call, and a named function's bare arguments, end where their arguments close", () => {
  assert.deepEqual(read({ kind: "wrapped" }, '{"name": "f", "arguments": {"a": {"b": 1}}}\n\n', 4).calls, [{ name: "f", arguments: '{"a": {"b": 1}}' }]);
  const named = read({ kind: "arguments", name: "g" }, '  {"x": "}"}\n\n\n', 1);
  assert.deepEqual(named.calls, [{ name: "g", arguments: '{"x": "}"}' }]);
  assert.equal(named.events.at(-1)?.type, "tool_call_done");
});

test("output cut short (max_tokens) leaves the call incomplete, never a call made up", () => {
  const { calls, events } = read({ kind: "array" }, '[{"name": "f", "arguments": {"a": 1}}, {"na', 5);
  assert.deepEqual(calls, [{ name: "f", arguments: '{"a": 1}' }]);
  const cut = read({ kind: "wrapped" }, '{"name": "f", "arguments": {"a": [1, ', 3);
  assert.deepEqual(cut.calls, [{ name: "f", arguments: '{"a": [1, ' }]);
  assert.ok(!cut.events.some((e) => e.type === "tool_call_done"), "a call cut short is never done");
  checkOrder(events);
});
