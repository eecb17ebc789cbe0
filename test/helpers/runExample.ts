import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { FinishedRequest } from "../../src/engine/types.ts";

export interface ExampleRun { code: number | null; out: string; err: string }

/**
 * An example script run as a user runs it (`node examples/<name> ...args`, from the project's
 * root), with `env` added to the environment and `stdin` as its input; resolves once it exited and
 * its output was read to the end.
 */
export function runExample(name: string, env: Record<string, string>, opts: { args?: string[]; stdin?: string } = {}): Promise<ExampleRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`examples/${name}`, ...(opts.args ?? [])], { cwd: new URL("../..", import.meta.url), env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { err += d; });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out, err }));
    child.stdin.end(opts.stdin ?? "");
  });
}

/** A chat example's two turns, as the engine saw them: the second turn's prompt holds the first turn and its reply. */
export function assertConversationKept(finished: readonly FinishedRequest[]): void {
  assert.equal(finished.length, 2);
  const [first, second] = finished;
  assert.ok(second!.usage.promptTokens > first!.usage.promptTokens + first!.usage.completionTokens, "the second turn's prompt holds the first turn and its reply");
}
