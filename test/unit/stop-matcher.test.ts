import assert from "node:assert/strict";
import { test } from "node:test";
import { StopMatcher } from "../../src/engine/StopMatcher.ts";

function run(stops: string[], pieces: string[]) {
  const m = new StopMatcher(stops);
  let out = "";
  for (const p of pieces) {
    const r = m.push(p);
    out += r.text;
    if (r.stopped) return { out, stopped: true };
  }
  return { out: out + m.flush(), stopped: false };
}

test("a stop string split across pieces cuts the text before it", () => {
  assert.deepEqual(run(["END"], ["hello E", "N", "D world"]), { out: "hello ", stopped: true });
});

test("text that only looks like the start of a stop string is released in the end", () => {
  assert.deepEqual(run(["END"], ["hello E", "N"]), { out: "hello EN", stopped: false });
});

test("held text is released once it can no longer become a stop string", () => {
  const m = new StopMatcher(["\n\n"]);
  assert.deepEqual(m.push("a\n"), { text: "a", stopped: false });
  assert.deepEqual(m.push("b"), { text: "\nb", stopped: false });
});

test("the earliest of several stop strings wins", () => {
  assert.deepEqual(run(["world", "lo"], ["hello world"]), { out: "hel", stopped: true });
});

test("no stop strings pass text straight through", () => {
  assert.deepEqual(run([], ["a", "b"]), { out: "ab", stopped: false });
});

test("the matcher says which stop string ended the text: the earliest, and at one position the first listed", () => {
  const m = new StopMatcher(["world", "lo"]);
  assert.equal(m.matched, null);
  m.push("hel");
  assert.equal(m.matched, null, "held text that may still become a stop string names none");
  m.push("lo world");
  assert.equal(m.matched, "lo");
  const tie = new StopMatcher(["ab", "abc"]);
  tie.push("xabc");
  assert.equal(tie.matched, "ab");
});
