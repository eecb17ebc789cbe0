export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

interface Second {
  t: number;
  requests: number;
  errors: number;
  generations: number;
  outputTokens: number;
  promptTokens: number;
  ttft: number[];
  e2e: number[];
  tpot: number[];
  queue: number[];
}

const KEEP_SECONDS = 300;
const WINDOW_SECONDS = 60;
const HISTORY_STEP_SECONDS = 5;

/**
 * The last five minutes of finished requests in one-second buckets: exact percentiles over the
 * last minute for /v1/stats, and a coarser history for the monitor's trend lines.
 */
export class RecentRequests {
  readonly #seconds: Second[] = [];
  readonly #started = Date.now();
  readonly #totals = { requests: 0, errors: 0, generations: 0, prompt_tokens: 0, completion_tokens: 0 };
  readonly #errorsByCode = new Map<string, number[]>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  response(status: number): void {
    this.#totals.requests++;
    this.#bucket().requests++;
    if (status >= 400) {
      this.#totals.errors++;
      this.#bucket().errors++;
    }
  }

  /** An error code, from an HTTP error or a stream that ended in one. */
  error(code: string): void {
    const times = this.#errorsByCode.get(code) ?? [];
    times.push(this.#now());
    this.#errorsByCode.set(code, times);
  }

  generation(r: { ttftMs: number | null; e2eMs: number; queueMs: number; promptTokens: number; completionTokens: number }): void {
    const b = this.#bucket();
    b.generations++;
    b.outputTokens += r.completionTokens;
    b.promptTokens += r.promptTokens;
    b.e2e.push(r.e2eMs);
    b.queue.push(r.queueMs);
    if (r.ttftMs !== null) {
      b.ttft.push(r.ttftMs);
      if (r.completionTokens > 1) b.tpot.push((r.e2eMs - r.ttftMs) / (r.completionTokens - 1));
    }
    this.#totals.generations++;
    this.#totals.prompt_tokens += r.promptTokens;
    this.#totals.completion_tokens += r.completionTokens;
  }

  summary() {
    const nowSec = Math.floor(this.#now() / 1000);
    this.#prune(nowSec);
    const window = this.#seconds.filter((s) => s.t > nowSec - WINDOW_SECONDS);
    const span = Math.max(1, Math.min(WINDOW_SECONDS, (this.#now() - this.#started) / 1000));
    const sum = (f: (s: Second) => number) => window.reduce((n, s) => n + f(s), 0);
    const requests = sum((s) => s.requests);
    const errorsByCode: Record<string, number> = {};
    for (const [code, times] of this.#errorsByCode) {
      const recent = times.filter((t) => t > this.#now() - WINDOW_SECONDS * 1000);
      if (recent.length) errorsByCode[code] = recent.length;
    }
    return {
      windowSeconds: WINDOW_SECONDS,
      requestsPerSecond: requests / span,
      generationsPerSecond: sum((s) => s.generations) / span,
      outputTokensPerSecond: sum((s) => s.outputTokens) / span,
      promptTokensPerSecond: sum((s) => s.promptTokens) / span,
      errorRate: requests ? sum((s) => s.errors) / requests : 0,
      errorsByCode,
      ttftMs: percentiles(window.flatMap((s) => s.ttft)),
      e2eMs: percentiles(window.flatMap((s) => s.e2e)),
      tpotMs: percentiles(window.flatMap((s) => s.tpot)),
      queueMs: percentiles(window.flatMap((s) => s.queue)),
      totals: { ...this.#totals },
      history: this.#history(nowSec),
    };
  }

  /** Five-second points over the kept five minutes, oldest first, empty points included. */
  #history(nowSec: number) {
    const points = [];
    for (let end = nowSec - KEEP_SECONDS + HISTORY_STEP_SECONDS; end <= nowSec; end += HISTORY_STEP_SECONDS) {
      const secs = this.#seconds.filter((s) => s.t > end - HISTORY_STEP_SECONDS && s.t <= end);
      points.push({
        t: end,
        requests: secs.reduce((n, s) => n + s.requests, 0) / HISTORY_STEP_SECONDS,
        output_tokens: secs.reduce((n, s) => n + s.outputTokens, 0) / HISTORY_STEP_SECONDS,
        ttft_p50_ms: percentiles(secs.flatMap((s) => s.ttft)).p50,
        e2e_p50_ms: percentiles(secs.flatMap((s) => s.e2e)).p50,
      });
    }
    return points;
  }

  #bucket(): Second {
    const t = Math.floor(this.#now() / 1000);
    let last = this.#seconds.at(-1);
    if (!last || last.t !== t) {
      last = { t, requests: 0, errors: 0, generations: 0, outputTokens: 0, promptTokens: 0, ttft: [], e2e: [], tpot: [], queue: [] };
      this.#seconds.push(last);
      this.#prune(t);
    }
    return last;
  }

  #prune(nowSec: number): void {
    while (this.#seconds.length && this.#seconds[0]!.t <= nowSec - KEEP_SECONDS) this.#seconds.shift();
    for (const [code, times] of this.#errorsByCode) {
      const kept = times.filter((t) => t > this.#now() - KEEP_SECONDS * 1000);
      if (kept.length) this.#errorsByCode.set(code, kept);
      else this.#errorsByCode.delete(code);
    }
  }
}

/** Nearest-rank percentiles (the value at rank ceil(p * n)), exact over the given samples. */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: null, p90: null, p95: null, p99: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), max: sorted.at(-1)! };
}
