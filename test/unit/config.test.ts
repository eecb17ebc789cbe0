import assert from "node:assert/strict";
import { writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, envLayer, flagLayer, readConfigFile, resolveConfig } from "../../src/config/loadConfig.ts";
import { configOptions } from "../../src/config/options.ts";

test("defaults need no configuration at all", () => {
  const c = resolveConfig();
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, 8000);
  assert.equal(c.inference.context_length, 4096);
  assert.equal(c.model.path, undefined);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.inference));
});

test("the seeds' YAML keys load, then the environment, then flags win", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-config-"));
  const file = join(dir, "hearth.yaml");
  await writeFile(file, "port: 9000\nbatching:\n  max_batch_size: 8\ninference:\n  max_tokens: 2048\n  temperature: 0.7\n  context_length: 8192\n");
  const c = resolveConfig(await readConfigFile(file), envLayer({ HEARTH_PORT: "9100", HEARTH_CTX_SIZE: "2048" }), { inference: { context_length: 1024 } });
  assert.equal(c.port, 9100);
  assert.equal(c.batching.max_batch_size, 8);
  assert.equal(c.inference.max_tokens, 2048);
  assert.equal(c.inference.temperature, 0.7);
  assert.equal(c.inference.context_length, 1024);
});

test("an unknown or invalid setting is named in the error", () => {
  assert.throws(() => resolveConfig({ inference: { context_lenght: 10 } }), (e: unknown) => e instanceof ConfigError && /inference\.context_lenght/.test(e.message));
  assert.throws(() => resolveConfig({ port: 70000 }), (e: unknown) => e instanceof ConfigError && /'port'/.test(e.message));
  assert.throws(() => resolveConfig({ model: { gpu: "tpu" } }), (e: unknown) => e instanceof ConfigError && /model\.gpu/.test(e.message));
});

test("a config file that is not YAML or not a mapping is refused clearly", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-config-"));
  await writeFile(join(dir, "bad.yaml"), "port: [1, 2\n");
  await writeFile(join(dir, "list.yaml"), "- 1\n- 2\n");
  await assert.rejects(readConfigFile(join(dir, "bad.yaml")), /not valid YAML/);
  await assert.rejects(readConfigFile(join(dir, "list.yaml")), /mapping/);
  await assert.rejects(readConfigFile(join(dir, "missing.yaml")), /ENOENT/);
});

test("every flag and environment variable comes from the schema, named once", () => {
  const byFlag = new Map(configOptions.map((o) => [o.flag, o]));
  assert.deepEqual(byFlag.get("slots")?.path, ["batching", "max_batch_size"]);
  assert.equal(byFlag.get("ctx-size")?.env, "HEARTH_CTX_SIZE");
  assert.equal(new Set(configOptions.map((o) => o.env)).size, configOptions.length, "no two settings share a name");
  const c = resolveConfig(envLayer({ HEARTH_SLOTS: "3", HEARTH_MODEL: "/m.gguf", HEARTH_MODEL_NAME: "007" }), flagLayer({ maxQueue: 5 }));
  assert.deepEqual([c.batching.max_batch_size, c.batching.max_queue, c.model.path, c.model.name], [3, 5, "/m.gguf", "007"], "a string setting stays a string");
});

test("pull.allow_private_addresses is off by default, and on with its flag or HEARTH_ALLOW_PRIVATE_ADDRESSES", () => {
  assert.equal(resolveConfig().pull.allow_private_addresses, false);
  assert.equal(resolveConfig(envLayer({ HEARTH_ALLOW_PRIVATE_ADDRESSES: "true" })).pull.allow_private_addresses, true);
  assert.equal(resolveConfig(envLayer({ HEARTH_ALLOW_PRIVATE_ADDRESSES: "0" })).pull.allow_private_addresses, false);
  assert.equal(resolveConfig(flagLayer({ allowPrivateAddresses: true })).pull.allow_private_addresses, true);
  assert.throws(() => resolveConfig(envLayer({ HEARTH_ALLOW_PRIVATE_ADDRESSES: "maybe" })), /pull\.allow_private_addresses/);
});
