import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

// Every module the CLI's static import graph resolves (what `hearth serve` holds from its start),
// recorded by a resolve hook in the child.
const HOOK = `
import { registerHooks } from "node:module";
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.add(r.url); return r; } });
process.on("exit", () => process.stdout.write("\\nMODULES " + JSON.stringify([...seen]) + "\\n"));
`;

test("the CLI loads no heavy package that only some commands use: they are imported when needed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-imports-"));
  const hook = join(dir, "hook.mjs");
  await writeFile(hook, HOOK);
  // `serve` as far as its start (TLS files that do not exist end it), behind an upstream: no runner starts.
  const args = ["serve", "--upstream", "http://127.0.0.1:9/v1", "--tls-cert", join(dir, "none.crt"), "--tls-key", join(dir, "none.key")];
  const { stdout } = await run(process.execPath, ["--import", hook, join(root, "bin/hearth.js"), ...args], { cwd: root }).catch((err: { stdout: string }) => err);
  const modules = JSON.parse(/MODULES (.*)/.exec(stdout)?.[1] ?? "[]") as string[];
  assert.ok(modules.some((m) => m.endsWith("/src/cli/serve.ts")), "the hook saw the serve command's modules");
  // The generator's Llama 3 vocabulary (about 110 MB resident), the embedded PostgreSQL (a
  // PostgreSQL deployment never needs it), the AWS SDK (S3 pulls only) and node-llama-cpp (a third
  // of a second of the server's start; runners and estimates load it in their own processes).
  for (const heavy of ["llama3-tokenizer-js", "@electric-sql/pglite", "@aws-sdk/", "node-llama-cpp"]) {
    assert.deepEqual(modules.filter((m) => m.includes(`/node_modules/${heavy}`)), [], `${heavy} is loaded at start`);
  }
});
