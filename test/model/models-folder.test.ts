import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createParser } from "eventsource-parser";
import { testModel } from "../helpers/models.ts";
import { post, startServer, type TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";
import { startServer as startFileServer, type TestServer as FileServer } from "../pull/fixtures.ts";

/**
 * The models folder: every GGUF file in it is a model, found at start and when the folder changes.
 * Bad files become failed models with a readable reason while the rest keep serving; names never
 * reach the file system.
 */
let server: TestServer;
let dir: string;
let outside: string;
const messages = [{ role: "user" as const, content: "hi" }];

/** The tiny model with its architecture renamed: a valid GGUF that llama.cpp cannot run. */
function withArchitecture(gguf: Buffer, arch: string): Buffer {
  const key = Buffer.from("general.architecture");
  const at = gguf.indexOf(key) + key.length + 4 + 8; // the key, then the value's type (u32) and length (u64)
  assert.equal(gguf.subarray(at, at + 5).toString(), "llama");
  const out = Buffer.from(gguf);
  out.write(arch, at, "latin1");
  return out;
}

before(async () => {
  const tiny = await testModel("tiny");
  const bytes = await readFile(tiny);
  dir = await mkdtemp(join(tmpdir(), "hearth-folder-"));
  outside = await mkdtemp(join(tmpdir(), "hearth-outside-"));
  await copyFile(tiny, join(dir, "good.gguf"));
  await writeFile(join(dir, "truncated.gguf"), bytes.subarray(0, 200));
  await writeFile(join(dir, "notes.gguf"), "these are my notes, not a model\n");
  await writeFile(join(dir, "martian.gguf"), withArchitecture(bytes, "mars!"));
  await writeFile(join(dir, ".hidden.gguf"), bytes);
  await writeFile(join(dir, "readme.txt"), "not a model");
  await copyFile(tiny, join(outside, "secret.gguf"));
  await symlink(join(outside, "secret.gguf"), join(dir, "escape.gguf"));
  server = await startServer({ config: { models_dir: dir, keep_alive: -1, pull: { allow_private_addresses: true } } });
});
after(() => server.close());

const list = async () => ((await (await fetch(`${server.url}/v1/models`)).json()) as { data: { id: string; state: string; error?: string; size_bytes: number | null }[] }).data;

test("every GGUF in the folder is listed; hidden files, other files and links out of the folder are not", async () => {
  await waitUntil(async () => (await list()).filter((m) => m.state === "failed").length === 2, "the bad files are checked");
  const models = Object.fromEntries((await list()).map((m) => [m.id, m]));
  assert.deepEqual(Object.keys(models).sort(), ["good", "martian", "notes", "tiny", "truncated"]);
  assert.equal(models.good!.state, "available");
  assert.equal(models.good!.size_bytes, (await readFile(join(dir, "good.gguf"))).length);
  assert.equal(models.truncated!.state, "failed");
  assert.match(models.truncated!.error!, /truncated|past the end|end of the file/i);
  assert.equal(models.notes!.state, "failed");
  assert.match(models.notes!.error!, /not a GGUF file/);
  assert.ok(!JSON.stringify(models).includes(dir), "no path is shown");
});

test("bad files answer 503 model_load_failed with the reason, and the other models keep serving", async () => {
  const ok = await server.client.chat.completions.create({ model: "good", messages, max_tokens: 2 });
  assert.equal(ok.usage?.completion_tokens, 2);
  for (const [model, reason] of [["truncated", /truncated|past the end|end of the file/i], ["notes", /not a GGUF file/], ["martian", /architecture/i]] as const) {
    const res = await post(`${server.url}/v1/chat/completions`, { model, messages });
    assert.equal(res.status, 503, model);
    assert.equal(res.json.error?.code, "model_load_failed");
    assert.match(res.json.error!.message, reason);
    assert.ok(!res.json.error!.message.includes(dir), "no path leaks");
  }
  assert.equal((await list()).find((m) => m.id === "martian")?.state, "failed");
  assert.equal((await server.client.chat.completions.create({ model: "good", messages, max_tokens: 2 })).usage?.completion_tokens, 2);
  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200, "a failed on-demand model does not make the server unready");
});

test("names are looked up, never used as paths: every trick gets the same 404", async () => {
  const tricks = ["../good", "..%2Fgood", "/etc/passwd", `${dir}/good.gguf`, "good.gguf", "escape", "secret", ".hidden", "good\u0000", "%2e%2e%2fgood"];
  for (const name of tricks) {
    const chat = await post(`${server.url}/v1/chat/completions`, { model: name, messages });
    // A NUL cannot be stored in the usage log: refused at validation, before any lookup.
    assert.equal(chat.status, name.includes("\u0000") ? 400 : 404, name);
    assert.equal(chat.json.error?.param === "model" || chat.json.error?.code === "model_not_found", true, name);
    const get = await fetch(`${server.url}/v1/models/${encodeURIComponent(name)}`);
    assert.equal(get.status, 404, name);
    const load = await post(`${server.url}/v1/models/${encodeURIComponent(name)}/load`, {});
    assert.equal(load.status, 404, name);
  }
  const a = await post(`${server.url}/v1/models/${encodeURIComponent("../../../etc/passwd")}/load`, {});
  const b = await post(`${server.url}/v1/models/${encodeURIComponent("../../../etc/no-such-file")}/load`, {});
  assert.equal(a.json.error!.message.replace("passwd", "X"), b.json.error!.message.replace("no-such-file", "X"), "no existence oracle");
});

/** Reads GET /v1/models/events until `until` holds for the events so far. */
async function watchEvents(until: (events: { event: string; data: Record<string, unknown> }[]) => boolean, act: () => Promise<void>) {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/v1/models/events`, { signal: controller.signal });
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const parser = createParser({ onEvent: (e) => events.push({ event: e.event ?? "message", data: JSON.parse(e.data) as Record<string, unknown> }) });
  const reader = res.body!.getReader();
  let acted = false;
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(new TextDecoder().decode(value));
      if (!acted && events.length > 0) { acted = true; await act(); }
    }
  } finally {
    controller.abort();
  }
  return events;
}

test("the folder is watched: a new file appears, a removed one goes; /v1/models/events streams it, and state changes", async () => {
  const events = await watchEvents(
    (es) => es.some((e) => e.event === "state" && e.data.model === "fresh" && e.data.state === "loaded"),
    async () => {
      await copyFile(join(dir, "good.gguf"), join(dir, "fresh.gguf"));
      await waitUntil(async () => (await list()).some((m) => m.id === "fresh"), "fresh appears");
      assert.equal((await post(`${server.url}/v1/models/fresh/load`, {})).status, 200);
    },
  );
  assert.equal(events[0]!.event, "models", "the stream starts with every model's state");
  const names = events.map((e) => `${e.event}:${e.data.model ?? ""}:${e.data.state ?? ""}`);
  assert.ok(names.indexOf("added:fresh:") < names.indexOf("state:fresh:loading"));
  assert.ok(names.indexOf("state:fresh:loading") < names.indexOf("state:fresh:loaded"));
  await rm(join(dir, "fresh.gguf"));
  await waitUntil(async () => !(await list()).some((m) => m.id === "fresh"), "fresh is gone once its file is");
});

let files: FileServer;
after(() => files?.close());

test("POST /v1/models/pull streams progress, then the model is listed and serves; local paths are refused over HTTP", async () => {
  const body = await readFile(await testModel("tiny"));
  files = await startFileServer({ "/models/pulled.gguf": { kind: "file", body } });
  const res = await fetch(`${server.url}/v1/models/pull`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source: `${files.url}/models/pulled.gguf` }) });
  assert.equal(res.status, 200);
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const parser = createParser({ onEvent: (e) => events.push({ event: e.event ?? "message", data: JSON.parse(e.data) as Record<string, unknown> }) });
  parser.feed(await res.text());
  assert.ok(events.some((e) => e.event === "progress" && e.data.phase === "downloading"), JSON.stringify(events.map((e) => e.event)));
  const done = events.at(-1)!;
  assert.equal(done.event, "done");
  assert.deepEqual([done.data.id, done.data.size_bytes, (done.data.model as { state: string }).state], ["pulled", body.length, "available"]);
  assert.equal((await server.client.chat.completions.create({ model: "pulled", messages, max_tokens: 2 })).usage?.completion_tokens, 2);
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes("pulled")), ["pulled.gguf"], "no temporary file is left");

  const local = await post(`${server.url}/v1/models/pull`, { source: join(outside, "secret.gguf") });
  assert.equal(local.status, 400);
  assert.equal(local.json.error?.code, "invalid_model_source");
  const missing = await post(`${server.url}/v1/models/pull`, { source: `${files.url}/models/nothing.gguf`, stream: false });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error?.code, "model_source_not_found");
});

test("hearth models lists a running server's models with state and memory, and loads and unloads them", async () => {
  const run = (...args: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ["bin/hearth.js", "models", ...args, "--url", server.url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d; });
    child.stderr.on("data", (d: Buffer) => { out += d; });
    child.once("exit", (code) => resolve({ code, out }));
  });
  const listed = await run();
  assert.equal(listed.code, 0, listed.out);
  assert.match(listed.out, /^MODEL\s+STATE\s+SIZE\s+ESTIMATE\s+MEMORY/m);
  assert.match(listed.out, /^tiny \(pinned\)\s+loaded\s+0 MiB\s+\d+ MiB\s+\d+ MiB/m);
  assert.match(listed.out, /^notes\s+failed/m);
  assert.match(listed.out, /^notes: .*not a GGUF file/m);
  const unloaded = await run("unload", "good");
  assert.equal(unloaded.code, 0, unloaded.out);
  assert.match(unloaded.out, /^good: available$/m);
  const loaded = await run("load", "good");
  assert.match(loaded.out, /^good: loaded, \d+ MiB$/m);
  const missing = await run("load", "../etc/passwd");
  assert.equal(missing.code, 1);
  assert.match(missing.out, /does not exist/);
});
