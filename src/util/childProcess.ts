import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Runs a module of this project in a short-lived Node.js process: work whose memory the server
 * would otherwise keep for life (WebAssembly memory, native allocations) goes when the child exits.
 * The module calls `childMain` under `import.meta.main`; resolves with what it wrote to stdout,
 * rejects with its error message.
 */
export function runInChild(moduleUrl: string, args: string[], what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fileURLToPath(moduleUrl), ...args], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${what} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** The child's side of runInChild: its result to stdout, or only its error's message to stderr. */
export async function childMain(work: () => Promise<string | void>): Promise<void> {
  try {
    process.stdout.write((await work()) ?? "");
  } catch (err) {
    process.stderr.write(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}
