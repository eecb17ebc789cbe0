import * as hdr from "hdr-histogram-js";
import type { RequestResult } from "./client.ts";

/** Milliseconds. Percentiles from an HDR histogram (3 significant digits), recorded in microseconds. */
export interface MetricSummary {
  count: number;
  mean: number;
  std: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * One run's results. Metric names and definitions follow vLLM's serving benchmark: TTFT (to the
 * first text), TPOT ((E2EL - TTFT) / (output tokens - 1), per request), ITL (gaps between text
 * chunks), E2EL (whole request); request and token throughput over the run's wall time.
 */
export interface BenchReport {
  tool: "hearth bench";
  created_at: string;
  url: string;
  model: string;
  scenario: string;
  config: { requests: number; concurrency: number; rate: number | null; max_tokens: number; stream: boolean; warmup: number; duration_limit_s: number | null };
  duration_s: number;
  completed: number;
  failed: number;
  error_rate: number;
  errors: Record<string, number>;
  total_input_tokens: number;
  total_output_tokens: number;
  request_throughput: number;
  output_throughput: number;
  total_token_throughput: number;
  ttft_ms: MetricSummary;
  tpot_ms: MetricSummary;
  itl_ms: MetricSummary;
  e2el_ms: MetricSummary;
}

export const METRICS = ["ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"] as const;

function summarize(valuesMs: number[]): MetricSummary {
  if (valuesMs.length === 0) return { count: 0, mean: 0, std: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
  for (const v of valuesMs) h.recordValue(Math.max(1, Math.round(v * 1000)));
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: valuesMs.length,
    mean: ms(h.mean), std: ms(h.stdDeviation),
    p50: ms(h.getValueAtPercentile(50)), p90: ms(h.getValueAtPercentile(90)), p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)), max: ms(h.maxValue),
  };
}

export function buildReport(results: RequestResult[], durationMs: number, meta: Pick<BenchReport, "url" | "model" | "scenario" | "config">): BenchReport {
  const ok = results.filter((r) => r.ok);
  const errors: Record<string, number> = {};
  for (const r of results) if (!r.ok) errors[r.errorKind ?? "unknown"] = (errors[r.errorKind ?? "unknown"] ?? 0) + 1;
  const input = ok.reduce((n, r) => n + r.promptTokens, 0);
  const output = ok.reduce((n, r) => n + r.outputTokens, 0);
  const s = durationMs / 1000;
  return {
    tool: "hearth bench",
    created_at: new Date().toISOString(),
    ...meta,
    duration_s: s,
    completed: ok.length,
    failed: results.length - ok.length,
    error_rate: results.length ? (results.length - ok.length) / results.length : 0,
    errors,
    total_input_tokens: input,
    total_output_tokens: output,
    request_throughput: ok.length / s,
    output_throughput: output / s,
    total_token_throughput: (input + output) / s,
    ttft_ms: summarize(ok.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs]))),
    tpot_ms: summarize(ok.filter((r) => r.outputTokens > 1 && r.ttftMs !== null).map((r) => (r.e2eMs - r.ttftMs!) / (r.outputTokens - 1))),
    itl_ms: summarize(ok.flatMap((r) => r.itlMs)),
    e2el_ms: summarize(ok.map((r) => r.e2eMs)),
  };
}

const f = (x: number, d = 1) => x.toFixed(d);

export function formatReport(r: BenchReport): string {
  const load = r.config.rate ? `rate ${r.config.rate}/s, at most ${r.config.concurrency} in flight` : `concurrency ${r.config.concurrency}`;
  const lines = [
    `scenario ${r.scenario}: ${r.completed + r.failed} requests, ${load}, ${f(r.duration_s, 2)} s, model ${r.model} at ${r.url}`,
    `  ok ${r.completed}, failed ${r.failed} (${f(r.error_rate * 100)}%)${Object.keys(r.errors).length ? `: ${Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(", ")}` : ""}`,
    `  request/s ${f(r.request_throughput, 2)}   output tok/s ${f(r.output_throughput)}   total tok/s ${f(r.total_token_throughput)}   tokens in ${r.total_input_tokens} out ${r.total_output_tokens}`,
    "",
    `  ${"ms".padEnd(6)}${["mean", "P50", "P90", "P95", "P99", "max"].map((h) => h.padStart(10)).join("")}`,
  ];
  for (const m of METRICS) {
    const s = r[m];
    lines.push(`  ${m.replace("_ms", "").toUpperCase().padEnd(6)}${[s.mean, s.p50, s.p90, s.p95, s.p99, s.max].map((v) => f(v).padStart(10)).join("")}`);
  }
  return lines.join("\n");
}

/** Two reports side by side: b's value, a's value, and b / a. */
export function compareReports(a: BenchReport, b: BenchReport): string {
  const row = (name: string, x: number, y: number, digits = 1) =>
    `  ${name.padEnd(22)}${f(x, digits).padStart(12)}${f(y, digits).padStart(12)}${(x ? `${f(y / x, 2)}x` : "-").padStart(10)}`;
  const lines = [`  ${"".padEnd(22)}${"A".padStart(12)}${"B".padStart(12)}${"B/A".padStart(10)}`,
    `  A: ${a.scenario} at ${a.url} (${a.created_at})`, `  B: ${b.scenario} at ${b.url} (${b.created_at})`,
    row("request/s", a.request_throughput, b.request_throughput, 2),
    row("output tok/s", a.output_throughput, b.output_throughput),
    row("error rate %", a.error_rate * 100, b.error_rate * 100)];
  for (const m of METRICS) for (const p of ["p50", "p99"] as const) lines.push(row(`${m.replace("_ms", "").toUpperCase()} ${p} ms`, a[m][p], b[m][p]));
  return lines.join("\n");
}
