import assert from "node:assert/strict";
import { test } from "node:test";
import { QueueFullError, Scheduler, type SchedulerOptions } from "../../src/scheduler/Scheduler.ts";
import { chooseSlot } from "../../src/scheduler/chooseSlot.ts";

function scheduler(over: Partial<SchedulerOptions> = {}) {
  let now = 0;
  const s = new Scheduler({ slots: 4, maxQueue: 2, timeoutMs: 1000, stepTokens: 16, minPrefixReuse: 8, now: () => now, ...over });
  return { s, advance: (ms: number) => { now += ms; } };
}
const prompt = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

test("requests take free slots first come first served, and the excess waits in a bounded queue", () => {
  const { s } = scheduler({ slots: 2, maxQueue: 2 });
  for (const id of ["a", "b", "c", "d"]) s.add(id, prompt(3));
  assert.throws(() => s.add("e", prompt(3)), QueueFullError);
  assert.deepEqual(s.admit().map((a) => [a.requestId, a.slot]), [["a", 0], ["b", 1]]);
  assert.equal(s.queued, 2);
  assert.deepEqual(s.admit(), [], "no slot is free");
  s.release(0, []);
  assert.deepEqual(s.admit().map((a) => [a.requestId, a.slot]), [["c", 0]]);
});

test("a step decodes one token per decoding slot and gives the rest of its budget to prompt chunks, oldest first", () => {
  const { s, advance } = scheduler({ stepTokens: 16 });
  s.add("old", prompt(30));
  advance(1);
  s.add("new", prompt(30, 100));
  s.admit();
  // Both prompts start: 16 tokens of budget go to the older request first.
  assert.deepEqual(s.plan(), [{ kind: "prefill", slot: 0, requestId: "old", from: 0, to: 16, last: false }]);
  s.prefilled(0, 16, false);
  assert.deepEqual(s.plan(), [
    { kind: "prefill", slot: 0, requestId: "old", from: 16, to: 30, last: true },
    { kind: "prefill", slot: 1, requestId: "new", from: 0, to: 2, last: false },
  ]);
  s.prefilled(0, 30, true);
  s.prefilled(1, 2, false);
  // Slot 0 now decodes (1 token), leaving 15 for the other prompt.
  assert.deepEqual(s.plan(), [
    { kind: "decode", slot: 0, requestId: "old" },
    { kind: "prefill", slot: 1, requestId: "new", from: 2, to: 17, last: false },
  ]);
});

test("work comes in ascending slot order", () => {
  const { s } = scheduler({ slots: 4, stepTokens: 64 });
  for (const id of ["a", "b", "c", "d"]) s.add(id, prompt(2, id.charCodeAt(0) * 10));
  s.admit();
  for (const w of s.plan()) s.prefilled(w.slot, 2, true);
  assert.deepEqual(s.plan().map((w) => w.slot), [0, 1, 2, 3]);
});

test("a request past its deadline expires, queued or running, and queue wait counts", () => {
  const { s, advance } = scheduler({ slots: 1, timeoutMs: 100 });
  s.add("running", prompt(4));
  s.admit();
  advance(50);
  s.add("waiting", prompt(4));
  advance(50);
  assert.deepEqual(s.expire(), { queued: [], running: [{ requestId: "running", slot: 0 }] });
  s.release(0, []);
  advance(49);
  assert.deepEqual(s.expire(), { queued: [], running: [] });
  advance(1);
  assert.deepEqual(s.expire(), { queued: ["waiting"], running: [] });
  assert.equal(s.queued, 0);
});

test("a prompt sharing a long prefix with a free slot's cache goes to that slot and skips the prefix", () => {
  const { s } = scheduler({ slots: 3, minPrefixReuse: 8 });
  const system = prompt(20, 500);
  s.release(2, [...system, 1, 2, 3]);
  s.add("a", [...system, 7, 8]);
  const [admission] = s.admit();
  assert.deepEqual(admission, { requestId: "a", slot: 2, reuse: 20 });
  assert.deepEqual(s.plan(), [{ kind: "prefill", slot: 2, requestId: "a", from: 20, to: 22, last: true }]);
});

test("the same prompt again reuses all but its last token", () => {
  const { s } = scheduler({ slots: 2, minPrefixReuse: 4 });
  s.release(1, prompt(10));
  s.add("a", prompt(10));
  assert.equal(s.admit()[0]!.reuse, 9);
});

test("dequeue removes only waiting requests", () => {
  const { s } = scheduler({ slots: 1 });
  s.add("a", prompt(2));
  s.add("b", prompt(2));
  s.admit();
  assert.equal(s.dequeue("a"), false);
  assert.equal(s.dequeue("b"), true);
  assert.equal(s.queued, 0);
});

test("slot choice keeps busy slots contiguous unless a long shared prefix is worth a gap", () => {
  const free = (ids: number[], tokens: Record<number, number[]> = {}) => ids.map((id) => ({ id, tokens: tokens[id] ?? [] }));
  // Busy 0, 1, 3: slot 2 closes the gap.
  assert.equal(chooseSlot(free([2, 4, 5]), [0, 1, 3], prompt(5), 8).slot, 2);
  // Nothing busy: the lowest id.
  assert.equal(chooseSlot(free([0, 1, 2]), [], prompt(5), 8).slot, 0);
  // A short shared prefix does not justify a gap...
  assert.equal(chooseSlot(free([1, 5], { 5: prompt(4) }), [0], prompt(10), 8).slot, 1);
  // ...a long one does.
  assert.deepEqual(chooseSlot(free([1, 5], { 5: prompt(9) }), [0], prompt(10), 8), { slot: 5, shared: 9 });
  // Among equally contiguous slots, the longer prefix wins.
  assert.deepEqual(chooseSlot(free([0, 3], { 3: prompt(3) }), [], prompt(10), 8), { slot: 3, shared: 3 });
});

test("tenants take turns for free slots: one tenant's burst does not make another wait behind it", () => {
  const { s } = scheduler({ slots: 2, maxQueue: 100 });
  for (let i = 0; i < 40; i++) s.add(`a${i}`, prompt(3, i * 10), "A");
  for (let i = 0; i < 4; i++) s.add(`b${i}`, prompt(3, 1000 + i * 10), "B");
  const order: string[] = [];
  // Run to the end: each round every running request finishes and frees its slot.
  while (!s.idle) {
    const admitted = s.admit();
    order.push(...admitted.map((a) => a.requestId));
    for (const a of admitted) s.release(a.slot, []);
  }
  assert.deepEqual(order.slice(0, 2), ["a0", "b0"], "the second slot goes to B, not to A's next request");
  const lastB = order.indexOf("b3");
  assert.ok(lastB < 10, `B's last request is admitted at position ${lastB} of ${order.length}, long before A's last`);
  assert.deepEqual(order.filter((id) => id.startsWith("a")), Array.from({ length: 40 }, (_, i) => `a${i}`), "each tenant is still first come, first served");
});

test("a prompt whose prefix another slot holds is admitted to copy that slot's state, keeping busy slots together", () => {
  const { s } = scheduler({ slots: 4, minPrefixReuse: 8, minPrefixCopy: 4, stepTokens: 64 });
  const system = prompt(20, 500);
  s.add("first", [...system, 1, 2]);
  s.admit();
  s.prefilled(0, 22, true);
  s.add("second", [...system, 3, 4, 5]);
  // Slot 1 keeps the busy slots in one run; slot 0 holds the prefix.
  assert.deepEqual(s.admit(), [{ requestId: "second", slot: 1, reuse: 20, copyFrom: 0 }]);
  assert.deepEqual(s.plan()[1], { kind: "prefill", slot: 1, requestId: "second", from: 20, to: 23, last: true });
});

test("requests sharing a prefix a slot is still evaluating wait for it, then copy it; others pass them", () => {
  const { s } = scheduler({ slots: 4, maxQueue: 8, minPrefixCopy: 4, stepTokens: 16 });
  const same = prompt(40, 300);
  for (const id of ["n0", "n1", "n2"]) s.add(id, same);
  s.add("other", prompt(10, 900));
  assert.deepEqual(s.admit().map((a) => [a.requestId, a.slot]), [["n0", 0], ["other", 1]], "n1 and n2 wait for n0's prompt");
  s.prefilled(0, 16, false);
  assert.deepEqual(s.admit(), [], "slot 0 holds 16 of the 40 tokens: still worth waiting");
  s.prefilled(0, 40, true);
  assert.deepEqual(s.admit(), [
    { requestId: "n1", slot: 2, reuse: 39, copyFrom: 0 },
    { requestId: "n2", slot: 3, reuse: 39, copyFrom: 0 },
  ]);
});

test("a short shared prefix is evaluated, not copied, and copying can be turned off", () => {
  for (const minPrefixCopy of [8, 0]) {
    const { s } = scheduler({ slots: 2, minPrefixReuse: 100, minPrefixCopy, stepTokens: 64 });
    s.add("a", prompt(minPrefixCopy === 0 ? 30 : 7));
    s.admit();
    s.add("b", prompt(minPrefixCopy === 0 ? 30 : 7));
    assert.deepEqual(s.admit(), [{ requestId: "b", slot: 1, reuse: 0 }], `minPrefixCopy ${minPrefixCopy}`);
  }
});

test("a request waiting for a prefix that its evaluating slot gives up copies what is left in that slot", () => {
  const { s } = scheduler({ slots: 2, minPrefixCopy: 4, stepTokens: 16, minPrefixReuse: 1000 });
  s.add("donor", prompt(40));
  s.add("waiter", prompt(40));
  s.admit();
  s.prefilled(0, 16, false);
  // The donor is cancelled: its slot keeps the 16 tokens it evaluated.
  s.release(0, prompt(16));
  const [admission] = s.admit();
  assert.equal(admission!.requestId, "waiter");
  assert.equal(admission!.reuse, 16);
  assert.ok(admission!.slot === 0 || admission!.copyFrom === 0, "it starts from slot 0's 16 tokens");
});

test("a failed copy makes the slot evaluate its whole prompt", () => {
  const { s } = scheduler({ slots: 2, minPrefixCopy: 4, stepTokens: 64 });
  s.add("a", prompt(30));
  s.admit();
  s.prefilled(0, 30, true);
  s.add("b", prompt(30));
  assert.equal(s.admit()[0]!.copyFrom, 0);
  s.copyFailed(1);
  assert.deepEqual(s.plan()[1], { kind: "prefill", slot: 1, requestId: "b", from: 0, to: 30, last: true });
});
