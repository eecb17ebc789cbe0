import { useEffect, useRef, useState } from "preact/hooks";
import { Chart } from "../components/Chart.tsx";
import { apiFetch, apiJson } from "../lib/api.ts";
import { bytes, ms, rate } from "../lib/format.ts";
import { buckets, parseMetrics, quantile, sum, type Scrape } from "../lib/prom.ts";
import { UsagePanel } from "../components/UsagePanel.tsx";

const POLL_MS = 1500;
const HISTORY = 160; // points kept: 4 minutes
const WINDOW = 20; // percentiles over the last 30 seconds of scrapes
/** The dashboard's own polling, left out of the request figures. */
const OWN_ROUTES = new Set(["/metrics", "/health", "/v1/slots", "/v1/usage", "/v1/models", "/v1/models/events"]);

interface Health {
  status: string;
  queue_depth?: number;
  slots_busy?: number;
  slots_total?: number;
  memory?: { used_bytes: number; budget_bytes: number; free_bytes: number };
  models?: { id: string; state: string; memory_bytes: number | null }[];
}
interface Slots {
  queue_depth: number;
  models: { model: string; queue_depth: number }[];
  data: { model: string; id: number; state: string; generated_tokens: number }[];
}
interface Point { t: number; scrape: Scrape }

const counted = (l: Record<string, string>) => !OWN_ROUTES.has(l.route ?? "");
const requests = (s: Scrape) => sum(s, "hearth_requests_total", counted);
const errorsOf = (s: Scrape) => sum(s, "hearth_request_errors_total");
const genTokens = (s: Scrape) => sum(s, "hearth_generation_tokens_total");
const promptTokens = (s: Scrape) => sum(s, "hearth_prompt_tokens_total");

function perSecond(a: Point | undefined, b: Point, f: (s: Scrape) => number): number | null {
  if (!a) return null;
  const dt = b.t - a.t;
  return dt > 0 ? Math.max(0, f(b.scrape) - f(a.scrape)) / dt : null;
}

/** Charts' series, appended as each scrape arrives. */
interface Series {
  t: number[];
  rps: (number | null)[]; eps: (number | null)[];
  tps: (number | null)[]; pps: (number | null)[];
  ttft50: (number | null)[]; ttft95: (number | null)[]; itl50: (number | null)[]; itl95: (number | null)[];
  busy: (number | null)[]; queue: (number | null)[];
}
const emptySeries = (): Series => ({ t: [], rps: [], eps: [], tps: [], pps: [], ttft50: [], ttft95: [], itl50: [], itl95: [], busy: [], queue: [] });

function pct(name: string, q: number, now: Scrape, before: Scrape | undefined): number | null {
  const v = quantile(q, buckets(now, name), before ? buckets(before, name) : []);
  return v === null ? null : v * 1000;
}

export function DashboardPage() {
  const [series, setSeries] = useState<Series>(emptySeries);
  const [latest, setLatest] = useState<Scrape | null>(null);
  const [health, setHealth] = useState<Health | null>(null);
  const [slots, setSlots] = useState<Slots | null>(null);
  const [error, setError] = useState<string | null>(null);
  const points = useRef<Point[]>([]);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const [text, h, s] = await Promise.all([
          apiFetch("/metrics").then((r) => r.text()),
          fetch("/health").then((r) => r.json() as Promise<Health>), // open, and 503 while a pinned model loads
          apiJson<Slots>("/v1/slots"),
        ]);
        if (stopped) return;
        const p: Point = { t: Date.now() / 1000, scrape: parseMetrics(text) };
        const all = points.current;
        const prev = all.at(-1);
        const old = all[Math.max(0, all.length - WINDOW)];
        all.push(p);
        if (all.length > HISTORY) all.shift();
        setSeries((x) => {
          const next: Series = {
            t: [...x.t, p.t], rps: [...x.rps, perSecond(prev, p, requests)], eps: [...x.eps, perSecond(prev, p, errorsOf)],
            tps: [...x.tps, perSecond(prev, p, genTokens)], pps: [...x.pps, perSecond(prev, p, promptTokens)],
            ttft50: [...x.ttft50, pct("hearth_time_to_first_token_seconds", 0.5, p.scrape, old?.scrape)],
            ttft95: [...x.ttft95, pct("hearth_time_to_first_token_seconds", 0.95, p.scrape, old?.scrape)],
            itl50: [...x.itl50, pct("hearth_time_per_output_token_seconds", 0.5, p.scrape, old?.scrape)],
            itl95: [...x.itl95, pct("hearth_time_per_output_token_seconds", 0.95, p.scrape, old?.scrape)],
            busy: [...x.busy, s.data.filter((d) => d.state !== "idle").length], queue: [...x.queue, s.queue_depth],
          };
          if (next.t.length > HISTORY) for (const k of Object.keys(next) as (keyof Series)[]) next[k].shift();
          return next;
        });
        setLatest(p.scrape);
        setHealth(h);
        setSlots(s);
        setError(null);
      } catch (err) {
        if (!stopped) setError((err as Error).message);
      }
      if (!stopped) timer = setTimeout(() => void tick(), POLL_MS);
    };
    void tick();
    return () => { stopped = true; clearTimeout(timer); };
  }, []);

  const last = <T,>(a: T[]) => a.at(-1) ?? null;
  const errorsByCode = latest ? (latest.get("hearth_request_errors_total") ?? []).filter((e) => e.value > 0) : [];
  const budget = health?.memory?.budget_bytes ?? 0;
  return (
    <div class="dashboard">
      {error && <p class="error" role="alert">{error}</p>}
      <section class="tiles" aria-label="Totals">
        <div class="tile"><span class="label" id="total-requests-label">Total requests</span><output aria-labelledby="total-requests-label">{latest ? requests(latest) : "–"}</output></div>
        <div class="tile"><span class="label">Requests/s</span><output>{rate(last(series.rps), "")}</output></div>
        <div class="tile"><span class="label">Tokens/s</span><output>{rate(last(series.tps), "")}</output></div>
        <div class="tile"><span class="label">TTFT p50 / p95</span><output>{ms(last(series.ttft50))} / {ms(last(series.ttft95))}</output></div>
        <div class="tile"><span class="label">ITL p50 / p95</span><output>{ms(last(series.itl50))} / {ms(last(series.itl95))}</output></div>
        <div class="tile"><span class="label">Errors</span><output>{latest ? errorsOf(latest) : "–"}</output></div>
      </section>
      <section class="charts">
        <Chart title="Requests per second" data={[series.t, series.rps, series.eps]} series={[{ label: "requests/s", color: "#3b82f6" }, { label: "errors/s", color: "#ef4444" }]} />
        <Chart title="Tokens per second" data={[series.t, series.tps, series.pps]} series={[{ label: "generated", color: "#10b981" }, { label: "prompt", color: "#a855f7" }]} />
        <Chart title="Latency percentiles (30 s)" unit=" ms" data={[series.t, series.ttft50, series.ttft95, series.itl50, series.itl95]}
          series={[{ label: "TTFT p50", color: "#f59e0b" }, { label: "TTFT p95", color: "#b45309" }, { label: "ITL p50", color: "#06b6d4" }, { label: "ITL p95", color: "#0e7490" }]} />
        <Chart title="Slots and queue" data={[series.t, series.busy, series.queue]} series={[{ label: "busy slots", color: "#3b82f6" }, { label: "queued", color: "#f43f5e" }]} />
      </section>
      <div class="panels">
        <section class="panel" aria-label="Slots per model">
          <h2>Slots and queue</h2>
          {!slots?.models.length ? <p class="empty">No model loaded.</p> : slots.models.map((m) => (
            <div class="slot-model" key={m.model}>
              <strong>{m.model}</strong> <span class="muted">queue {m.queue_depth}</span>
              <div class="slots">
                {slots.data.filter((d) => d.model === m.model).map((d) => (
                  <span key={d.id} class={`slot slot-${d.state}`} title={`slot ${d.id}: ${d.state}, ${d.generated_tokens} generated`}>{d.state}</span>
                ))}
              </div>
            </div>
          ))}
        </section>
        <section class="panel" aria-label="Memory">
          <h2>Memory</h2>
          {health?.memory ? (
            <>
              <label class="meter">
                <span>Used {bytes(health.memory.used_bytes)} of {bytes(budget)} budget</span>
                <meter min={0} max={budget || 1} value={health.memory.used_bytes} high={budget * 0.9} />
              </label>
              {health.models?.map((m) => (
                <label class="meter" key={m.id}>
                  <span>{m.id} <span class={`state state-${m.state}`}>{m.state}</span> {bytes(m.memory_bytes)}</span>
                  <meter min={0} max={budget || 1} value={m.memory_bytes ?? 0} />
                </label>
              ))}
            </>
          ) : <p class="empty">{health ? `Status: ${health.status}` : "…"}</p>}
        </section>
        <section class="panel" aria-label="Errors by code">
          <h2>Errors</h2>
          {errorsByCode.length === 0 ? <p class="empty">No errors.</p> : (
            <table class="table"><tbody>{errorsByCode.map((e) => <tr key={e.labels.code}><th scope="row">{e.labels.code}</th><td>{e.value}</td></tr>)}</tbody></table>
          )}
        </section>
      </div>
      <UsagePanel />
    </div>
  );
}
