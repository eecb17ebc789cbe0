import { fork, type ChildProcess } from "node:child_process";
import type { RunnerOptions } from "./protocol.ts";

const RUNNER = new URL("./runnerMain.ts", import.meta.url);

/** Starts a runner process, which waits for its `init` message. */
export function forkRunner(env: NodeJS.ProcessEnv = {}): ChildProcess {
  return fork(RUNNER, [], {
    env: { ...process.env, UV_THREADPOOL_SIZE: "1", ...env },
    // A 2 MB young generation (V8's default grows to 16 MB per semi-space): the step loop's garbage
    // is short-lived, and the larger nursery only added about 65 MB of resident memory.
    execArgv: ["--max-semi-space-size=2"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

let spare: { child: ChildProcess; gpu: RunnerOptions["gpu"] } | null = null;

/**
 * Starts one runner ahead of need, when a server about to serve local models has read its config
 * and not yet imported the rest of itself: the runner's own start (Node.js, node-llama-cpp and
 * llama.cpp's library, about 0.8 s) then runs beside the server's. The first model to load takes
 * it. Unclaimed, it holds nothing open and exits with the server (its IPC channel closes).
 */
export function prestartRunner(gpu: RunnerOptions["gpu"]): void {
  if (spare) return;
  const child = forkRunner({ HEARTH_RUNNER_GPU: gpu });
  child.unref();
  child.channel?.unref();
  child.once("exit", () => { if (spare?.child === child) spare = null; });
  spare = { child, gpu };
}

/** The runner started ahead of need, for a model with this `gpu` setting: once, if it still runs. */
export function takePrestarted(gpu: RunnerOptions["gpu"]): ChildProcess | null {
  if (!spare || spare.gpu !== gpu || spare.child.exitCode !== null || !spare.child.connected) return null;
  const { child } = spare;
  spare = null;
  child.ref();
  child.channel?.ref();
  return child;
}
