import assert from "node:assert/strict";
import { test } from "node:test";
import { gauge, sparkline } from "../../src/monitor/sparkline.ts";

test("a sparkline scales to its maximum and leaves gaps where there is no data", () => {
  assert.equal(sparkline([0, 1, 2, 4, null, 8]), "▁▂▃▅ █");
  assert.equal(sparkline([0, 0]), "▁▁");
  assert.equal(sparkline([1, 2, 3], 2), "▆█", "only the last `width` points");
});

test("a gauge fills its share of the width", () => {
  assert.equal(gauge(0.5, 4), "██░░");
  assert.equal(gauge(2, 3), "███");
});
