import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { testModel } from "../helpers/models.ts";
import { post, startServer } from "../helpers/server.ts";

const ADMIN = "admin-key-for-process-tests-0123456789";
const json = (key: string) => ({ authorization: `Bearer ${key}`, "content-type": "application/json" });

test("with two slots, key A's 40 queued requests do not make key B's 4 wait behind them", async () => {
  const s = await startServer({ config: { auth: "required", admin_key: ADMIN, batching: { max_batch_size: 2 } } });
  try {
    const a = (await post(`${s.url}/v1/admin/keys`, { name: "burst" }, json(ADMIN))).json.key as string;
    const b = (await post(`${s.url}/v1/admin/keys`, { name: "polite" }, json(ADMIN))).json.key as string;
    const order: string[] = [];
    const send = (key: string, tag: string) => post(`${s.url}/v1/completions`, { model: "tiny", prompt: tag, max_tokens: 40, temperature: 0 }, json(key))
      .then((r) => { assert.equal(r.status, 200); order.push(tag); });
    const burst = Array.from({ length: 40 }, (_, i) => send(a, `a${i}`));
    // B arrives once all of A's burst is in the runner's queue, whatever the machine's speed: the
    // claim is about requests already waiting, not about which connection the server reads first.
    let waiting = 0;
    for (;;) {
      const stats = await (await fetch(`${s.url}/v1/stats`, { headers: json(ADMIN) })).json() as { waiting: number; running: number };
      waiting = stats.waiting;
      if (stats.waiting + stats.running + order.length >= 40) break;
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(waiting >= 20, `only ${waiting} of A's requests were still waiting when B arrived`);
    const doneBeforeB = order.length;
    const polite = Array.from({ length: 4 }, (_, i) => send(b, `b${i}`));
    await Promise.all([...burst, ...polite]);
    const after = order.slice(doneBeforeB);
    const lastB = Math.max(...after.map((t, i) => (t.startsWith("b") ? i : -1)));
    const aAhead = after.slice(0, lastB).filter((t) => t.startsWith("a")).length;
    // Turns alternate between keys: at most the two A requests running when B came, plus one A per B.
    assert.ok(aAhead <= 7, `${aAhead} of A's requests finished before B's last (FIFO would be ${waiting + 2}): ${order.join(" ")}`);
  } finally {
    await s.close();
  }
});

test("keys never appear in the server's log, even at debug level", async () => {
  const data = await mkdtemp(join(tmpdir(), "hearth-keylog-"));
  const child = spawn(process.execPath, ["bin/hearth.js", "serve", "--model", await testModel("tiny"), "--model-name", "tiny", "--port", "0", "--threads", "1", "--slots", "2", "--log-level", "debug",
    "--auth", "required", "--data-dir", data, "--models-dir", join(data, "models")], { env: { ...process.env, HEARTH_ADMIN_KEY: ADMIN }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d; });
  child.stderr.on("data", (d: Buffer) => { out += d; });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const check = () => { const m = /listening on (http:\/\/\S+)/.exec(out); if (m) resolve(m[1]!); };
      child.stdout.on("data", check);
      child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const key = (await post(`${url}/v1/admin/keys`, { name: "secretive", models: ["tiny"], rpm: 2 }, json(ADMIN))).json.key as string;
    const sentinel = "hth-SENTINEL0000000000000000000000000000000000000";
    const statuses = [];
    for (const [k, model] of [[key, "tiny"], [key, "tiny"], [key, "tiny"], [key, "elsewhere"], [sentinel, "tiny"], [ADMIN, "tiny"]] as const) {
      statuses.push((await post(`${url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 }, json(k))).status);
    }
    assert.deepEqual(statuses, [200, 200, 429, 403, 401, 200]);
    assert.ok(out.includes('"statusCode":429') || out.includes("rate_limit_exceeded"), "the log does record the requests");
    for (const secret of [key, key.slice(4), sentinel, ADMIN]) assert.ok(!out.includes(secret), "a key is in the log");
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await rm(data, { recursive: true, force: true });
  }
});
