import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";

/** The OpenAI SDK examples in examples/, run as a user runs them, against a real Hearth. */
let server: TestServer;
before(async () => { server = await startServer(); });
after(() => server.close());

async function run(script: string, stdin: string, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [`examples/${script}`, ...args], {
    env: { ...process.env, HEARTH_URL: server.url, HEARTH_MODEL: server.model, HEARTH_MAX_TOKENS: "6" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
  child.stdin.end(stdin);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr };
}

test("openai-chat.ts: one answer per line typed", async () => {
  const { code, stdout, stderr } = await run("openai-chat.ts", "Hello\nAnd then?\n");
  assert.equal(code, 0, stderr);
  assert.equal(stdout.split("\n").filter((l) => l.startsWith("assistant: ")).length, 2, stdout);
});

test("openai-stream.ts: the reply streamed to stdout, its usage on stderr", async () => {
  const { code, stdout, stderr } = await run("openai-stream.ts", "", ["Tell me about hearths"]);
  assert.equal(code, 0, stderr);
  assert.ok(stdout.trim().length > 0);
  assert.match(stderr, /\[\d+ prompt \+ 6 completion tokens\]/);
});

test("openai-batch.ts: one JSON line per prompt, in order", async () => {
  const prompts = ["What is a hearth?", "What is a flue?", "What is a chimney?"];
  const { code, stdout, stderr } = await run("openai-batch.ts", `${prompts.join("\n")}\n`);
  assert.equal(code, 0, stderr);
  const answers = stdout.trim().split("\n").map((l) => JSON.parse(l) as { prompt: string; answer: string; tokens: number });
  assert.deepEqual(answers.map((a) => a.prompt), prompts);
  for (const a of answers) assert.equal(a.tokens, 6);
});
