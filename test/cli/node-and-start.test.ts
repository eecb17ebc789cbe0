import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import OpenAI from "openai";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

test("npm runs Hearth on the pinned Node.js 26", async () => {
  assert.match(process.version, /^v26\./, "npm test runs on the pinned Node.js");
  const { stdout } = await run("npx", ["hearth", "--version"], { cwd: root });
  assert.match(stdout, /^hearth \d+\.\d+\.\d+ \(node v26\./);
});

test("hearth gen-model writes the same bytes for the same seed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-cli-"));
  const sha = async (name: string) => {
    const { stdout } = await run("npx", ["hearth", "gen-model", "--preset", "tiny", "--type", "f16", "--seed", "5", "--out", join(dir, name)], { cwd: root });
    return /sha256 ([0-9a-f]{64})/.exec(stdout)?.[1];
  };
  const a = await sha("a.gguf");
  assert.ok(a);
  assert.equal(await sha("b.gguf"), a);
});

test("npm start with no configuration serves the demo model to the OpenAI SDK", async () => {
  const cache = await mkdtemp(join(tmpdir(), "hearth-start-"));
  const child = spawn("npm", ["start", "--silent"], {
    cwd: root,
    detached: true, // its own process group, so that npm and node stop together
    env: { ...process.env, HEARTH_PORT: "0", HEARTH_CACHE_DIR: cache, HEARTH_DATA_DIR: join(cache, "data"), HEARTH_THREADS: "1", HEARTH_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let out = "";
    const waitFor = (pattern: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(out);
        if (m) { child.stdout.off("data", onData); resolve(m); }
      };
      const onData = (d: Buffer) => { out += d.toString(); check(); };
      child.stdout.on("data", onData);
      child.once("exit", (code) => reject(new Error(`npm start exited with ${code}: ${out}`)));
      check();
    });
    await waitFor(/hearth serve --model \.\/my-model\.gguf/); // the banner's last line
    const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(url, out);
    assert.match(out, /weights are random/);
    // The model loads after the server listens, and says so in the log.
    const ready = await waitFor(/"msg":"model \S+ ready in runner (\d+)/);
    // In the runner started while the server imported itself, and no other left running.
    assert.match(out, new RegExp(`loads in runner ${ready[1]}, started ahead of need`));
    const { stdout: group } = await run("ps", ["-o", "args=", "-g", String(child.pid)]);
    assert.equal(group.split("\n").filter((l) => l.includes("runnerMain.ts")).length, 1, group);
    const health = await fetch(`${url}/health`);
    assert.deepEqual([health.status, ((await health.json()) as { status: string }).status], [200, "ok"]);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused" });
    const res = await client.chat.completions.create({ model: "hearth-demo", messages: [{ role: "user", content: "Hello!" }], max_tokens: 8 });
    assert.equal(res.usage?.completion_tokens, 8);
  } finally {
    process.kill(-child.pid!, "SIGTERM");
    if (child.exitCode === null) await once(child, "exit");
  }
});
