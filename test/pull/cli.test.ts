import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, test } from "node:test";
import { Command } from "commander";
import { registerPull } from "../../src/cli/pull.ts";
import { HearthError } from "../../src/errors.ts";
import { testModel } from "../helpers/models.ts";
import { listDir, scratch, sha256, startServer } from "./fixtures.ts";

/** `hearth pull` through commander, as main.ts will register it, with captured output. */
const model = await readFile(await testModel("tiny"));
const server = await startServer({ "/files/tiny.gguf": { kind: "file", body: model } });
after(() => server.close());
const { fresh } = await scratch("cli");

async function hearthPull(args: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => { out += d; });
  stderr.on("data", (d: Buffer) => { err += d; });
  const program = new Command("hearth").exitOverride();
  registerPull(program, { stdout, stderr, env });
  await program.parseAsync(["pull", ...args], { from: "user" });
  return { out, err };
}

test("hearth pull prints the final path, size and sha256, with progress lines when not on a terminal", async () => {
  const dir = await fresh();
  const { out, err } = await hearthPull([`${server.url}/files/tiny.gguf`, "--models-dir", dir, "--name", "cli-model", "--allow-private-addresses"]);
  const path = join(dir, "cli-model.gguf");
  assert.match(out, new RegExp(`^pulled ${path}$`, "m"));
  assert.match(out, new RegExp(`^size ${model.length} bytes`, "m"));
  assert.match(out, new RegExp(`^sha256 ${sha256(model)} `, "m"));
  assert.match(err, /^connecting http:\/\/127\.0\.0\.1:\d+\/files\/tiny\.gguf$/m);
  assert.match(err, /^downloading cli-model: /m);
  assert.deepEqual(await listDir(dir), ["cli-model.gguf"]);
});

test("the models folder defaults to $HEARTH_DATA_DIR/models", async () => {
  const data = await fresh();
  const { out } = await hearthPull([`${server.url}/files/tiny.gguf`], { HEARTH_DATA_DIR: data, HEARTH_ALLOW_PRIVATE_ADDRESSES: "true" });
  assert.match(out, new RegExp(`^pulled ${join(data, "models", "tiny.gguf")}$`, "m"));
});

test("a failed pull rejects with the HearthError that main.ts prints", async () => {
  const dir = await fresh();
  await assert.rejects(hearthPull([`${server.url}/files/missing.gguf`, "--models-dir", dir, "--allow-private-addresses"]), (e: unknown) => HearthError.is(e) && e.code === "model_source_not_found");
});

test("without --allow-private-addresses a loopback source is refused before any request", async () => {
  const dir = await fresh();
  const seen = server.requests.length;
  await assert.rejects(hearthPull([`${server.url}/files/tiny.gguf`, "--models-dir", dir]), (e: unknown) => HearthError.is(e) && e.code === "source_address_blocked");
  assert.equal(server.requests.length, seen);
});
