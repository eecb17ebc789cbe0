import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBytes, parseDurationSeconds } from "../../src/util/units.ts";

test("keep_alive durations read as Ollama reads them", () => {
  assert.equal(parseDurationSeconds("5m"), 300);
  assert.equal(parseDurationSeconds("30s"), 30);
  assert.equal(parseDurationSeconds("1.5h"), 5400);
  assert.equal(parseDurationSeconds("250ms"), 0.25);
  assert.equal(parseDurationSeconds("45"), 45);
  assert.equal(parseDurationSeconds(0), 0);
  assert.equal(parseDurationSeconds(-5), -1, "negative means never");
  assert.equal(parseDurationSeconds("-1m"), -1);
  assert.throws(() => parseDurationSeconds("soon"), RangeError);
  assert.throws(() => parseDurationSeconds("5 minutes"), RangeError);
});

test("memory sizes in bytes, SI and binary units, or a share of the total", () => {
  assert.equal(parseBytes("12GiB", 0), 12 * 1024 ** 3);
  assert.equal(parseBytes("800MB", 0), 800e6);
  assert.equal(parseBytes("800mb", 0), 800e6);
  assert.equal(parseBytes("1024", 0), 1024);
  assert.equal(parseBytes(5e9, 0), 5e9);
  assert.equal(parseBytes("75%", 1000), 750);
  assert.throws(() => parseBytes("lots", 1000), RangeError);
  assert.throws(() => parseBytes("12 parsecs", 1000), RangeError);
});
