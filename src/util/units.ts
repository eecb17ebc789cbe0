/** Durations and sizes as people write them in configs and requests. */

const SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;

/**
 * Ollama's keep_alive: "30s", "5m", "1h", "500ms", or a number of seconds. 0 means at once; a
 * negative value means never (returned as -1).
 */
export function parseDurationSeconds(value: string | number): number {
  const match = typeof value === "number" ? null : /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (typeof value !== "number" && !match) throw new RangeError(`'${value}' is not a duration such as 30s, 5m or 1h`);
  const seconds = typeof value === "number" ? value : Number(match![1]) * SECONDS[(match![2] ?? "s") as keyof typeof SECONDS];
  if (!Number.isFinite(seconds)) throw new RangeError(`'${value}' is not a finite duration`);
  return seconds < 0 ? -1 : seconds;
}

const BYTES: Record<string, number> = { "": 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3, ti: 1024 ** 4, tib: 1024 ** 4 };

/** "12GiB", "800MB", "1e9" as bytes, or "75%" as that share of `total`. */
export function parseBytes(value: string | number, total: number): number {
  if (typeof value === "number") return Math.floor(value);
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%|[a-z]*)\s*$/i.exec(value);
  const unit = match?.[2]?.toLowerCase() ?? "";
  if (!match || (unit !== "%" && !(unit in BYTES))) throw new RangeError(`'${value}' is not a size such as 12GiB, 800MB or 75%`);
  const n = Number(match[1]);
  return Math.floor(unit === "%" ? (total * n) / 100 : n * BYTES[unit]!);
}
