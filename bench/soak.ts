/**
 * A soak: `concurrency` closed-loop streaming clients with varied chat prompts (conversations of a
 * few turns, new users arriving all the time, one-off prompts between them) for `minutes`, against
 * a Hearth it starts on the tiny test model (or one at --url). Each minute: requests completed,
 * errors, the prompt cache's entries, and the resident memory of every process (the server and each
 * runner, found as its children: the median of a reading every 5 s). At the end: errors in all,
 * memory flat within ±10% (first minute against last), and the last minute's throughput against
 * the first's. Exits 1 if one fails.
 *
 *   npm run soak -- [--minutes 30] [--concurrency 32] [--max-tokens 16]
 *     [--url http://127.0.0.1:8000 --pid SERVER_PID] [--model tiny] [--model-path file.gguf]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sendRequest, type ClientOptions } from "../src/bench/client.ts";
import { scenarioPrompt, type BenchPrompt } from "../src/bench/scenarios.ts";
import { generateModel } from "../src/models/generator/generateModel.ts";
import { presets } from "../src/models/generator/presets.ts";
import { startHearth } from "./hearthProcess.ts";
import { memoryTree } from "./memoryTree.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    concurrency: { type: "string", default: "32" },
    "max-tokens": { type: "string", default: "16" },
    url: { type: "string" },
    pid: { type: "string" },
    model: { type: "string", default: "tiny" },
    "model-path": { type: "string" },
  },
});
const minutes = Number(values.minutes);
const concurrency = Number(values.concurrency);
if (!(minutes > 0) || !(concurrency >= 1)) throw new Error("--minutes and --concurrency must be positive");

/** Users talk in conversations of TURNS turns, USERS at a time; then new users come. */
const USERS = 64;
const TURNS = 4;

/** Request i: every third a one-off prompt, the others a user's next turn (which the prompt cache may hold). */
function soakPrompt(i: number): BenchPrompt {
  if (i % 3 === 2) return scenarioPrompt("uniform", i);
  const n = i - Math.floor(i / 3);
  const round = Math.floor(n / USERS);
  const user = (n % USERS) + USERS * Math.floor(round / TURNS);
  const messages: BenchPrompt["messages"] = [{ role: "system", content: `You help user ${user}. Answer briefly and kindly.` }];
  for (let t = 0; t <= round % TURNS; t++) {
    if (t > 0) messages.push({ role: "assistant", content: `Here is answer ${t} for user ${user}: the fire is lit.` });
    messages.push({ role: "user", content: `${scenarioPrompt("short", user + t).messages[0]!.content} Turn ${t}.` });
  }
  return { messages };
}

interface Minute { requests: number; errors: number; errorKinds: Map<string, number> }
const fresh = (): Minute => ({ requests: 0, errors: 0, errorKinds: new Map() });

let server: { url: string; pid: number; stop: () => Promise<void> };
if (values.url) {
  server = { url: values.url, pid: Number(values.pid ?? 0), stop: async () => {} };
} else {
  const dir = await mkdtemp(join(tmpdir(), "hearth-soak-"));
  const modelPath = values["model-path"] ?? join(dir, "tiny.gguf");
  if (!values["model-path"]) await generateModel({ ...presets.tiny, out: modelPath, seed: 7, name: "hearth-soak-tiny" });
  const { child, url } = await startHearth(["-m", modelPath, "--model-name", values.model, "--data-dir", dir, "--models-dir", join(dir, "models")]);
  child.stdout?.resume();
  server = {
    url,
    pid: child.pid!,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
  console.log(`soak: started Hearth ${url} (pid ${server.pid}) on the tiny test model`);
}

const client: ClientOptions = { url: server.url, model: values.model, maxTokens: Number(values["max-tokens"]), stream: true, timeoutMs: 60_000, temperature: 0.7 };
const started = performance.now();
const deadline = started + minutes * 60_000;
let minute = fresh();
const rows: { requests: number; errors: number; memory: Map<string, number>; cacheEntries: number | null }[] = [];
let next = 0;

async function cacheEntries(): Promise<number | null> {
  try {
    const slots = (await (await fetch(`${server.url}/v1/slots`)).json()) as { models: { steps: { prompt_cache?: { entries: number } } }[] };
    return slots.models.reduce((n, m) => n + (m.steps.prompt_cache?.entries ?? 0), 0);
  } catch {
    return null;
  }
}

/** Each process's RSS, sampled every 5 s: a minute reports the median, not one reading of a heap that breathes with its GCs. */
let samples = new Map<string, number[]>();
const sample = () => {
  if (!server.pid) return;
  for (const m of memoryTree(server.pid)) {
    const name = `${m.name} (pid ${m.pid})`;
    samples.set(name, [...(samples.get(name) ?? []), m.rssBytes]);
  }
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function report(): Promise<void> {
  const done = minute;
  minute = fresh();
  sample();
  const memory = new Map([...samples].map(([name, xs]) => [name, median(xs)] as const));
  samples = new Map();
  const entries = await cacheEntries();
  rows.push({ requests: done.requests, errors: done.errors, memory, cacheEntries: entries });
  const rss = [...memory].map(([name, bytes]) => `${name} ${(bytes / 1048576).toFixed(0)} MiB`).join(", ");
  const kinds = [...done.errorKinds].map(([k, n]) => `${k}: ${n}`).join(", ");
  console.log(`minute ${rows.length}: ${done.requests} requests/min, ${done.errors} errors${kinds ? ` (${kinds})` : ""}, prompt cache ${entries ?? "?"} entries; RSS ${rss || "(no --pid)"}`);
}

const timer = setInterval(() => void report(), 60_000);
const sampler = setInterval(sample, 5_000);
const worker = async () => {
  while (performance.now() < deadline) {
    const r = await sendRequest(client, soakPrompt(next++));
    if (performance.now() > deadline) break; // a request that ends past the last minute counts in none
    minute.requests++;
    if (!r.ok) {
      minute.errors++;
      minute.errorKinds.set(r.errorKind ?? "unknown", (minute.errorKinds.get(r.errorKind ?? "unknown") ?? 0) + 1);
    }
  }
};
await Promise.all(Array.from({ length: concurrency }, worker));
clearInterval(timer);
clearInterval(sampler);
if (rows.length < minutes) await report();
await server.stop();

const first = rows[0]!;
const last = rows.at(-1)!;
const errors = rows.reduce((n, r) => n + r.errors, 0);
const ratio = last.requests / Math.max(1, first.requests);
const memoryFlat = [...last.memory].every(([name, bytes]) => {
  const before = first.memory.get(name);
  return before === undefined || Math.abs(bytes / before - 1) <= 0.1;
});
const summary = [
  [`errors in all: ${errors}`, errors === 0],
  [`RSS first vs last minute: ${[...last.memory].map(([name, b]) => `${name} ${((first.memory.get(name) ?? 0) / 1048576).toFixed(0)} -> ${(b / 1048576).toFixed(0)} MiB`).join(", ") || "not measured"} (flat within ±10%)`, memoryFlat],
  [`throughput last vs first minute: ${last.requests} / ${first.requests} requests/min = ${(ratio * 100).toFixed(1)}% (within 10%)`, ratio >= 0.9],
] as const;
console.log("\nsummary");
for (const [line, ok] of summary) console.log(`  ${ok ? "ok  " : "FAIL"} ${line}`);
process.exitCode = summary.every(([, ok]) => ok) ? 0 : 1;
