/** Calls a running server's API for the CLI commands that manage it (models, keys, usage). */
export async function callServer(url: string, method: string, path: string, opts: { key?: string; body?: unknown } = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/+$/, "")}${path}`, {
      method,
      headers: {
        ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
        ...(method !== "GET" ? { "content-type": "application/json" } : {}),
      },
      ...(method !== "GET" ? { body: JSON.stringify(opts.body ?? {}) } : {}),
    });
  } catch (err) {
    throw new Error(`cannot reach ${url} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
  }
  const body = (await res.json()) as { error?: { message: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
}

/** Rows as aligned columns, the first row a header. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
}
