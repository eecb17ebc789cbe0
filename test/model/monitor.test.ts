import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { startServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";

const run = promisify(execFile);
const hearth = new URL("../../bin/hearth.js", import.meta.url).pathname;
const session = `hearth-monitor-${process.pid}`;
const screen = async () => (await run("tmux", ["capture-pane", "-p", "-t", session])).stdout;
const alive = async () => run("tmux", ["has-session", "-t", session]).then(() => true, () => false);

/** Waits for the terminal to show `pattern`; a failure carries what it showed instead. */
async function waitForScreen(pattern: RegExp, what: string): Promise<string> {
  let shown = "";
  try {
    await waitUntil(async () => {
      if (!(await alive())) throw new Error(`the monitor exited while waiting until ${what}`);
      shown = await screen();
      return pattern.test(shown);
    }, what, 30_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the terminal showed:\n${shown}`);
  }
  return shown;
}

test("hearth monitor shows live load in a terminal, says when the server is gone, recovers, and quits on q", async () => {
  let server = await startServer();
  const port = new URL(server.url).port;
  // CI=true as CI machines set it: ink alone would then show nothing until the monitor exits.
  await run("tmux", ["new-session", "-d", "-s", session, "-x", "110", "-y", "40", "-e", "CI=true", `${process.execPath} ${hearth} monitor --url ${server.url} --interval 200`]);
  try {
    // The load starts once the dashboard is up, so it does not compete with the monitor's start.
    await waitForScreen(/Throughput/, "the monitor shows the dashboard");
    let loading = true;
    const load = (async () => {
      while (loading) await server.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 });
    })();
    try {
      // A request counts when it arrives and its latencies when it ends: wait for both.
      const shown = await waitForScreen(/requests\/s\s+(?!0\.00)\d[\s\S]*\n  TTFT\s+[\d.]+\s+[\d.]+/, "the monitor shows requests/s and TTFT percentiles");
      assert.match(shown, /tiny\s+loaded/, "the model's name and state");
    } finally {
      loading = false;
      await load;
    }

    await server.close();
    await waitForScreen(/Server unreachable \(ECONNREFUSED\)/, "the monitor says the server is unreachable");

    server = await startServer({ config: { port: Number(port) } });
    await waitForScreen(/Throughput/, "the monitor recovers when the server is back");

    await run("tmux", ["send-keys", "-t", session, "q"]);
    await waitUntil(async () => !(await alive()), "q quits the monitor");
  } finally {
    if (await alive()) await run("tmux", ["kill-session", "-t", session]);
    await server.close();
  }
});
