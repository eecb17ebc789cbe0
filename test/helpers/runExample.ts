import { spawn } from "node:child_process";

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
