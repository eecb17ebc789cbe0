const BARS = "▁▂▃▄▅▆▇█";

/** A one-line chart of `values` (null: no data, drawn as a space), scaled to its own maximum. */
export function sparkline(values: readonly (number | null)[], width = values.length): string {
  const tail = values.slice(-width);
  const max = Math.max(0, ...tail.map((v) => v ?? 0));
  return tail.map((v) => (v === null ? " " : max === 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))])).join("");
}

/** A bar of `width` cells, `ratio` of them filled. */
export function gauge(ratio: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, ratio)) * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}
