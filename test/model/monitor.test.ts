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

test("hearth monitor shows live load in a terminal, says when the server is gone, recovers, and quits on q", async () => {
  let server = await startServer();
  const port = new URL(server.url).port;
  await run("tmux", ["new-session", "-d", "-s", session, "-x", "110", "-y", "40", `${process.execPath} ${hearth} monitor --url ${server.url} --interval 200`]);
  try {
    let loading = true;
    const load = (async () => {
      while (loading) await server.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 });
    })();
    await waitUntil(async () => /requests\/s\s+[1-9]/.test(await screen()), "the monitor shows non-zero requests/s", 15_000);
    const shown = await screen();
    assert.match(shown, /tiny\s+ready/, "the model's name and state");
    assert.match(shown, /TTFT\s+[\d.]+/);
    loading = false;
    await load;

    await server.close();
    await waitUntil(async () => /Server unreachable \(ECONNREFUSED\)/.test(await screen()), "the monitor says the server is unreachable");

    server = await startServer({ config: { port: Number(port) } });
    await waitUntil(async () => /Throughput/.test(await screen()), "the monitor recovers when the server is back");

    await run("tmux", ["send-keys", "-t", session, "q"]);
    await waitUntil(async () => !(await alive()), "q quits the monitor");
  } finally {
    if (await alive()) await run("tmux", ["kill-session", "-t", session]);
    await server.close();
  }
});
