/**
 * The workloads of the performance issue, against one or two OpenAI-compatible servers (Hearth,
 * llama-server, vLLM...), through `hearth bench`'s client: each side's figures and, given two
 * URLs, the ratios A/B (above 1 is better for throughput, below 1 for latency).
 *
 *   npm run bench:workloads -- --a http://127.0.0.1:8000 [--b http://127.0.0.1:8080] [--model m]
 *     [--a-pid PID] [--b-pid PID] [--endpoint completions|chat] [--only "uniform;mixed;..."]
 *
 * Start each server fresh: the shared-prefix workload's first run is meant to find the prefix
 * nowhere. Both servers stay up; each workload runs on A, then on B. `--a-pid`/`--b-pid`: the
 * server's process; its memory and its children's (Hearth's runners) is read before and after the
 * load, per process and summed.
 */
import { parseArgs } from "node:util";
import { buildReport, type BenchReport } from "../src/bench/report.ts";
import { memoryTree } from "./memoryTree.ts";
import { runLoad } from "../src/bench/runLoad.ts";
import { MULTI_TURN_USERS, scenarioPrompt, type ScenarioName } from "../src/bench/scenarios.ts";

const { values } = parseArgs({
  options: {
    a: { type: "string", default: "http://127.0.0.1:8000" },
    b: { type: "string" },
    model: { type: "string", default: "bench" },
    "a-pid": { type: "string" },
    "b-pid": { type: "string" },
    endpoint: { type: "string", default: "completions" },
    tokens: { type: "string", default: "64" },
    only: { type: "string" },
  },
});
const tokens = Number(values.tokens);
const endpoint = values.endpoint as "chat" | "completions";

interface Workload { name: string; scenario: ScenarioName; requests: number; concurrency: number; maxTokens?: number; show: (r: BenchReport) => Record<string, number> }
const throughput = (r: BenchReport) => ({ "output tok/s": r.output_throughput });
const workloads: Workload[] = [
  { name: "uniform, 1 stream", scenario: "uniform", requests: 6, concurrency: 1, show: throughput },
  { name: "uniform, 16 streams", scenario: "uniform", requests: 48, concurrency: 16, show: (r) => ({ ...throughput(r), "decode tok/s (16 / TPOT)": 16_000 / r.tpot_ms.mean }) },
  { name: "uniform, 32 streams", scenario: "uniform", requests: 96, concurrency: 32, show: throughput },
  { name: "mixed, 16 streams", scenario: "mixed", requests: 64, concurrency: 16, show: (r) => ({ ...throughput(r), "TTFT P99 ms": r.ttft_ms.p99, "ITL P99 ms": r.itl_ms.p99 }) },
  { name: "mixed, 32 streams", scenario: "mixed", requests: 96, concurrency: 32, show: (r) => ({ ...throughput(r), "TTFT P99 ms": r.ttft_ms.p99, "ITL P99 ms": r.itl_ms.p99, "E2EL P99 ms": r.e2el_ms.p99 }) },
  { name: "shared 1,300-token prefix, 16 at once, cold", scenario: "shared-prefix", requests: 16, concurrency: 16, show: (r) => ({ "TTFT P95 ms": r.ttft_ms.p95 }) },
  { name: "shared 1,300-token prefix, 16 at once, warm", scenario: "shared-prefix", requests: 16, concurrency: 16, show: (r) => ({ "TTFT P50 ms": r.ttft_ms.p50 }) },
  { name: `multi-turn, ${MULTI_TURN_USERS} users, 3 turns each`, scenario: "multi-turn", requests: MULTI_TURN_USERS * 3, concurrency: MULTI_TURN_USERS, maxTokens: 32, show: (r) => ({ "TTFT P50 ms": r.ttft_ms.p50, "output tok/s": r.output_throughput }) },
];
const only = values.only?.split(";");
const chosen = workloads.filter((w) => !only || only.some((o) => w.name.startsWith(o)));

function recordMemory(side: string, when: string, pid: number, into: Record<string, number>): void {
  const tree = memoryTree(pid);
  for (const m of tree) console.error(`${side} memory ${when}: ${m.name} (pid ${m.pid}) RSS ${(m.rssBytes / 1e6).toFixed(0)} MB, PSS ${(m.pssBytes / 1e6).toFixed(0)} MB`);
  into[`resident MB ${when} (sum of RSS)`] = tree.reduce((n, m) => n + m.rssBytes, 0) / 1e6;
  into[`proportional MB ${when} (sum of PSS)`] = tree.reduce((n, m) => n + m.pssBytes, 0) / 1e6;
}

const sides = [{ name: "A", url: values.a, pid: values["a-pid"] }, ...(values.b ? [{ name: "B", url: values.b, pid: values["b-pid"] }] : [])];
const results = new Map<string, Record<string, number>[]>();
// Prompts are offset per workload so that no workload reuses another's.
let offset = 0;
const offsets = new Map(chosen.map((w) => [w, w.scenario === "shared-prefix" ? 0 : (offset += 10_000)]));
// Workload by workload, A then B: on a shared machine the CPU's speed drifts by 20% over minutes,
// and two servers measured one after the other would compare two machines.
const memory = sides.map(() => ({}) as Record<string, number>);
sides.forEach((side, i) => { if (side.pid) recordMemory(side.name, "before", Number(side.pid), memory[i]!); });
for (const w of chosen) {
  for (const side of sides) {
    const start = offsets.get(w)!;
    const run = await runLoad({
      url: side.url, model: values.model, maxTokens: w.maxTokens ?? tokens, stream: true, timeoutMs: 600_000, endpoint, temperature: 0,
      requests: w.requests, concurrency: w.concurrency, warmup: 0,
      prompt: (i) => scenarioPrompt(w.scenario, w.scenario === "multi-turn" ? i : start + i),
    });
    const report = buildReport(run.results, run.durationMs, { url: side.url, model: values.model, scenario: w.scenario, config: { requests: w.requests, concurrency: w.concurrency, rate: null, max_tokens: w.maxTokens ?? tokens, stream: true, warmup: 0, duration_limit_s: null } });
    if (report.failed > 0) console.error(`${side.name} ${w.name}: ${report.failed} failed ${JSON.stringify(report.errors)}`);
    (results.get(w.name) ?? results.set(w.name, []).get(w.name)!).push(w.show(report));
    console.error(`${side.name} ${w.name}: ${JSON.stringify(w.show(report))}`);
  }
}
sides.forEach((side, i) => {
  if (!side.pid) return;
  recordMemory(side.name, "after", Number(side.pid), memory[i]!);
  (results.get("memory (server and its children)") ?? results.set("memory (server and its children)", []).get("memory (server and its children)")!).push(memory[i]!);
});

console.log(`\n| workload | figure | ${sides.map((s) => s.name).join(" | ")}${sides.length > 1 ? " | A/B" : ""} |`);
console.log(`|---|---|${sides.map(() => "---|").join("")}${sides.length > 1 ? "---|" : ""}`);
for (const [name, perSide] of results) {
  for (const key of Object.keys(perSide[0] ?? {})) {
    const v = perSide.map((r) => r[key] ?? NaN);
    console.log(`| ${name} | ${key} | ${v.map((x) => x.toFixed(1)).join(" | ")}${v.length > 1 ? ` | ${(v[0]! / v[1]!).toFixed(2)}` : ""} |`);
  }
}
