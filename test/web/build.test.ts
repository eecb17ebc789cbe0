import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const root = join(import.meta.dirname, "..", "..");

test("the app builds, its JavaScript is under the gzipped budget, and its page needs no inline script", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, "web", "build.ts")], { cwd: root });
  const total = /JS total, gzipped: ([\d.]+) KB \(budget ([\d.]+) KB\)/.exec(stdout);
  assert.ok(total, stdout);
  const [kb, budget] = [Number(total[1]), Number(total[2])];
  assert.equal(budget, 150);
  assert.ok(kb > 10 && kb <= budget, `JS is ${kb} KB gzipped`);
  const html = await readFile(join(root, "web", "dist", "index.html"), "utf8");
  // Under a CSP of default-src 'self': every script is a file under /assets/, none inline.
  assert.deepEqual([...html.matchAll(/<script\b[^>]*>/g)].map((m) => /src="\/assets\/[^"]+\.js"/.test(m[0])), [true]);
  assert.doesNotMatch(html, /<script\b[^>]*>[^<]+<\/script>/);
  assert.doesNotMatch(html, /https?:\/\//, "no external fonts or CDNs");
});

test("the build fails when the JavaScript is over the budget", async () => {
  const run = promisify(execFile)(process.execPath, [join(root, "web", "build.ts"), "--check", "--budget-kb", "10"], { cwd: root });
  await assert.rejects(run, (err: { code: number; stderr: string }) => err.code === 1 && /over budget/.test(err.stderr));
});
