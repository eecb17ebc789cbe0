import assert from "node:assert/strict";
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ModelRegistry } from "../../src/models/registry/ModelRegistry.ts";

test("a folder named like a model is ignored as a directory, not reported as a link out of the folder", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-registry-"));
  const outside = await mkdtemp(join(tmpdir(), "hearth-registry-out-"));
  await writeFile(join(dir, "good.gguf"), "GGUF");
  await mkdir(join(dir, "x.gguf"));
  await writeFile(join(outside, "secret.gguf"), "GGUF");
  await symlink(join(outside, "secret.gguf"), join(dir, "escape.gguf"));
  const logs: string[] = [];
  const registry = new ModelRegistry({ declared: [], modelsDir: dir, log: (m) => logs.push(m) });
  await registry.scan();
  assert.deepEqual(registry.list().map((e) => e.id), ["good"]);
  assert.deepEqual(logs.sort(), [
    "models folder: 'escape.gguf' points outside the folder; ignored",
    "models folder: 'x.gguf' is a directory, not a file; ignored",
  ]);
});
