import { Box, Text, useApp, useInput, useStdin } from "ink";
import { createElement as h, useEffect, useState, type ReactElement } from "react";
import type { StatsJson } from "../metrics/Metrics.ts";
import { gauge, sparkline } from "./sparkline.ts";

export interface MonitorProps {
  url: string;
  intervalMs: number;
  /** Sent as a bearer token, for a server with `auth: required`. */
  apiKey?: string;
}

type State =
  | { kind: "connecting" }
  | { kind: "ok"; stats: StatsJson; at: Date }
  | { kind: "unreachable"; reason: string; at: Date };

const ms = (v: number | null) => (v === null ? "-" : v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${v.toFixed(v < 10 ? 1 : 0)}`);
const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;

/** The live dashboard: polls GET /v1/stats every interval; keeps retrying while the server is down. */
export function Monitor({ url, intervalMs, apiKey }: MonitorProps): ReactElement {
  const { exit } = useApp();
  const [state, setState] = useState<State>({ kind: "connecting" });
  // Keys need raw mode, which only a terminal on stdin has; piped or detached, the dashboard still
  // draws and Ctrl-C (the default SIGINT) ends it.
  // ink passes stdin.isTTY through, undefined for a pipe, and only `false` turns the hook off.
  const keys = useStdin().isRawModeSupported === true;
  useInput((input, key) => {
    if (input === "q" || (key.ctrl && input === "c")) exit();
  }, { isActive: keys });
  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    // One poll at a time, the next one an interval after the last answer: a busy server gets a
    // slower dashboard, not a pile of overlapping requests. The timeout is generous for the same
    // reason: a loaded server that answers in a second is slow, not unreachable.
    const poll = async () => {
      try {
        const res = await fetch(`${url.replace(/\/+$/, "")}/v1/stats`, {
          signal: AbortSignal.timeout(Math.max(5000, 2 * intervalMs)),
          ...(apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const stats = (await res.json()) as StatsJson;
        if (!stopped) setState({ kind: "ok", stats, at: new Date() });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        const reason = e.cause?.code ?? e.message;
        if (!stopped) setState({ kind: "unreachable", reason, at: new Date() });
      }
      if (!stopped) timer = setTimeout(() => void poll(), intervalMs);
    };
    void poll();
    return () => { stopped = true; clearTimeout(timer); };
  }, [url, intervalMs, apiKey]);

  const header = h(Box, { justifyContent: "space-between" },
    h(Text, { bold: true }, `Hearth monitor  ${url}`),
    h(Text, { dimColor: true }, state.kind === "connecting" ? "connecting..." : `updated ${state.at.toLocaleTimeString()}  (${keys ? "q" : "Ctrl-C"} to quit)`));
  if (state.kind === "connecting") return h(Box, { flexDirection: "column" }, header);
  if (state.kind === "unreachable") {
    return h(Box, { flexDirection: "column" }, header,
      h(Text, { color: "red", bold: true }, `Server unreachable (${state.reason}); retrying every ${intervalMs / 1000} s...`));
  }
  return h(Box, { flexDirection: "column" }, header, h(Dashboard, { stats: state.stats }));
}

function Dashboard({ stats: s }: { stats: StatsJson }): ReactElement {
  const hist = s.history;
  const row = (label: string, p: StatsJson["ttft_ms"]) =>
    h(Text, null, `${label.padEnd(8)}${[p.p50, p.p95, p.p99, p.max].map((v) => ms(v).padStart(9)).join("")}${String(p.count).padStart(8)}`);
  const errorCodes = Object.entries(s.errors_by_code).map(([k, v]) => `${k} ${v}`).join(", ");
  return h(Box, { flexDirection: "column", marginTop: 1 },
    h(Text, { bold: true }, "Throughput (last 60 s)"),
    h(Text, null, `  requests/s ${s.requests_per_second.toFixed(2).padStart(8)}  ${sparkline(hist.map((p) => p.requests), 60)}`),
    h(Text, null, `  tokens/s   ${s.output_tokens_per_second.toFixed(1).padStart(8)}  ${sparkline(hist.map((p) => p.output_tokens), 60)}`),
    h(Text, null, `  TTFT P50 ms${ms(s.ttft_ms.p50).padStart(8)}  ${sparkline(hist.map((p) => p.ttft_p50_ms), 60)}`),
    h(Text, { dimColor: true }, "  (trends: the last 5 minutes, one mark per 5 s)"),
    h(Box, { marginTop: 1, flexDirection: "column" },
      h(Text, { bold: true }, `Latency ms (last 60 s)      P50      P95      P99      max   count`),
      row("  TTFT", s.ttft_ms), row("  E2E", s.e2e_ms), row("  TPOT", s.tpot_ms), row("  queue", s.queue_ms)),
    h(Box, { marginTop: 1, flexDirection: "column" },
      h(Text, { bold: true }, "Load"),
      h(Text, null, `  slots  ${gauge(s.slots_total ? s.slots_busy / s.slots_total : 0, 32)} ${s.slots_busy}/${s.slots_total} busy   queue ${s.waiting}`),
      h(Text, null, `  KV     ${gauge(s.kv_cache_usage_ratio, 32)} ${(s.kv_cache_usage_ratio * 100).toFixed(1)}%`),
      h(Text, { color: s.error_rate > 0 ? "yellow" : undefined }, `  errors ${(s.error_rate * 100).toFixed(1)}% of requests${errorCodes ? `: ${errorCodes}` : ""}`)),
    h(Box, { marginTop: 1, flexDirection: "column" },
      h(Text, { bold: true }, "Models"),
      // Keyed by position: the stats of a server (or an older one) may list an id twice.
      ...s.models.map((m, i) => h(Text, { key: i }, `  ${m.id}  ${m.state}  ctx ${m.context_size}  slots ${m.slots_busy}/${m.slots_total}  queue ${m.waiting}  runner ${mib(m.rss_bytes)}`)),
      h(Text, { dimColor: true }, `  server process ${mib(s.process_rss_bytes)}; totals: ${s.totals.requests} requests, ${s.totals.completion_tokens} tokens generated`)));
}
