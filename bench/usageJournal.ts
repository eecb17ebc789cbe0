// What the usage journal adds to a request: its start and its row appended to the journal
// (two write(2) calls), timed per request on the request path, with and without fsync. The database
// is not involved: batches are written off the request path. Run: node bench/usageJournal.ts
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageJournal } from "../src/store/UsageJournal.ts";
import { UsageLog } from "../src/store/UsageLog.ts";

const REQUESTS = Number(process.env.REQUESTS ?? 20_000);
const nowhere = { query: async () => ({ rows: [], rowCount: 0 }), exec: async () => {} };

async function measure(journal: boolean, fsync = false): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), "hearth-bench-journal-"));
  const opened = journal ? await UsageJournal.open({ dir, fsync }) : undefined;
  // Never flushed within the run, so only the request path is timed.
  const log = new UsageLog(nowhere, { flushIntervalMs: 3_600_000, batchSize: 1e9, maxBuffered: 1e9, ...(opened ? { journal: opened.journal } : {}) });
  const times: number[] = [];
  const n = fsync ? REQUESTS / 20 : REQUESTS;
  for (let i = 0; i < n; i++) {
    const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
    const t0 = performance.now();
    log.started({ requestId: id, model: "tiny", route: "/v1/chat/completions", keyName: "alice", userId: "user-42" });
    log.record({
      ts: new Date(), requestId: id, keyName: "alice", model: "tiny", route: "/v1/chat/completions", status: 200, finishReason: "stop",
      promptTokens: 120, cachedTokens: 64, completionTokens: 50, queueMs: 1.5, ttftMs: 20.1, durationMs: 310.7, errorType: null, userId: "user-42", cacheHit: false,
    });
    times.push(performance.now() - t0);
  }
  await opened?.journal.close(true);
  await rm(dir, { recursive: true, force: true });
  return times.sort((a, b) => a - b);
}

const pct = (t: number[], p: number) => t[Math.min(t.length - 1, Math.floor(t.length * p))]!.toFixed(4);
for (const [name, journal, fsync] of [["memory only", false, false], ["journal", true, false], ["journal + fsync", true, true]] as const) {
  const t = await measure(journal, fsync);
  console.log(`${name.padEnd(16)} per request: median ${pct(t, 0.5)} ms, p99 ${pct(t, 0.99)} ms (${t.length} requests)`);
}
