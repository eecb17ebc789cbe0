/** One sample of the Prometheus text format: a metric name, its labels and its value. */
export interface Sample { labels: Record<string, string>; value: number }
export type Scrape = Map<string, Sample[]>;

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus' text exposition format: samples by name (HELP and TYPE lines skipped). */
export function parseMetrics(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    let list = out.get(m[1]!);
    if (!list) out.set(m[1]!, (list = []));
    list.push({ labels, value });
  }
  return out;
}

/** The sum of a metric's samples whose labels pass `where`. */
export function sum(scrape: Scrape, name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
  return (scrape.get(name) ?? []).reduce((n, s) => (where(s.labels) ? n + s.value : n), 0);
}

/** A histogram's cumulative bucket counts, summed over its other labels: [upper bound, count]. */
export function buckets(scrape: Scrape, name: string): [number, number][] {
  const byLe = new Map<number, number>();
  for (const s of scrape.get(`${name}_bucket`) ?? []) {
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].sort((a, b) => a[0] - b[0]);
}

/**
 * The q-quantile of the observations between two scrapes of a histogram (bucket counts of `now`
 * minus those of `before`), interpolated linearly within a bucket as Prometheus' histogram_quantile
 * does. Null when nothing was observed.
 */
export function quantile(q: number, now: [number, number][], before: [number, number][] = []): number | null {
  const prev = new Map(before);
  const counts = now.map(([le, c]) => [le, c - (prev.get(le) ?? 0)] as [number, number]);
  const total = counts.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, c] of counts) {
    if (c >= rank) {
      if (le === Infinity) return lower;
      return lower + (le - lower) * ((rank - below) / Math.max(c - below, 1e-9));
    }
    lower = le;
    below = c;
  }
  return lower;
}
