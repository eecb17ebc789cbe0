import { useEffect, useState } from "preact/hooks";
import { apiJson } from "../lib/api.ts";
import type { UsageGroupBy, UsageReport, UsageReportRow } from "../../../src/wire/usageReport.ts";

const PERIODS = { "1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400 } as const;
type Period = keyof typeof PERIODS;

/** GET /v1/usage: totals by key, model or day over a chosen period. */
export function UsagePanel() {
  const [period, setPeriod] = useState<Period>("24h");
  const [groupBy, setGroupBy] = useState<UsageGroupBy>("model");
  const [rows, setRows] = useState<UsageReportRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => {
    const to = new Date();
    const from = new Date(to.getTime() - PERIODS[period] * 1000);
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), group_by: groupBy });
    apiJson<UsageReport>(`/v1/usage?${q}`).then((r) => { setRows(r.data); setError(null); }, (err: Error) => setError(err.message));
  };
  useEffect(load, [period, groupBy]);
  return (
    <section class="panel usage" aria-label="Usage">
      <div class="row">
        <h2>Usage</h2>
        <span class="spacer" />
        <label>Period
          <select value={period} onChange={(e) => setPeriod(e.currentTarget.value as Period)}>
            {Object.keys(PERIODS).map((p) => <option key={p} value={p}>last {p}</option>)}
          </select>
        </label>
        <label>Group by
          <select value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value as UsageGroupBy)}>
            <option value="model">model</option><option value="key">key</option><option value="day">day</option>
          </select>
        </label>
        <button type="button" onClick={load}>Refresh</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {rows && (rows.length === 0 ? <p class="empty">No requests in this period.</p> : (
        <table class="table" aria-label="Usage table">
          <thead><tr>
            <th scope="col">{groupBy}</th><th scope="col">Requests</th><th scope="col">Prompt tokens</th><th scope="col">Cached</th>
            <th scope="col">Completion tokens</th><th scope="col">Errors</th><th scope="col">Cancelled</th><th scope="col">Cache hits</th>
          </tr></thead>
          <tbody>{rows.map((r) => (
            <tr key={r.group ?? "-"}>
              <th scope="row">{r.group ?? (groupBy === "key" ? "(no key)" : "–")}</th>
              <td>{r.requests}</td><td>{r.prompt_tokens}</td><td>{r.cached_tokens}</td><td>{r.completion_tokens}</td>
              <td>{r.errors}</td><td>{r.cancelled}</td><td>{r.cache_hits}</td>
            </tr>
          ))}</tbody>
        </table>
      ))}
    </section>
  );
}
