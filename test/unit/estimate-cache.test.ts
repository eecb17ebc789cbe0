import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { EstimateCache } from "../../src/models/budget/EstimateCache.ts";

const estimate = { totalBytes: 400_000_000, modelBytes: 12_000_000, contextBytes: 250_000_000, contextSize: 4096 };
const opts = { contextSize: 4096, slots: 4, batchSize: 512 };

test("an estimate kept by one server is found by the next on the same data folder, for the same file version and settings only", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-estimates-"));
  try {
    const path = join(dir, "estimates.json");
    const first = new EstimateCache(path);
    const key = EstimateCache.key("/models/a.gguf", "12:1000", opts);
    assert.equal(first.get(key), undefined);
    first.set(key, estimate);
    await first.flushed();
    const second = new EstimateCache(path);
    assert.deepEqual(second.get(key), estimate);
    assert.equal(second.get(EstimateCache.key("/models/a.gguf", "13:1001", opts)), undefined, "a changed file is estimated again");
    assert.equal(second.get(EstimateCache.key("/models/a.gguf", "12:1000", { ...opts, slots: 8 })), undefined, "other settings are estimated again");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a damaged or foreign estimates file is ignored, entry by entry", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-estimates-"));
  try {
    const path = join(dir, "estimates.json");
    await writeFile(path, "{ not json");
    assert.equal(new EstimateCache(path).get(EstimateCache.key("/m.gguf", "1:1", opts)), undefined);
    const good = EstimateCache.key("/m.gguf", "1:1", opts);
    const bad = EstimateCache.key("/n.gguf", "1:1", opts);
    await writeFile(path, JSON.stringify([[good, estimate], [bad, { ...estimate, totalBytes: -1 }], ["x"]]));
    const cache = new EstimateCache(path);
    assert.deepEqual(cache.get(good), estimate);
    assert.equal(cache.get(bad), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
