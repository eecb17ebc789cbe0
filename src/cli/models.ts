import type { Command } from "commander";

interface ModelJson {
  id: string;
  state: string;
  error?: string;
  aliases: string[];
  pinned: boolean;
  size_bytes: number | null;
  memory_estimate_bytes: number | null;
  memory_bytes: number | null;
}

const mib = (b: number | null) => (b === null ? "-" : `${(b / 1048576).toFixed(0)} MiB`);

/** `hearth models`: what a running server serves, with state and memory; `load` and `unload` one. */
export function registerModels(program: Command): void {
  const models = program
    .command("models")
    .description("list a running server's models with their state and memory")
    .option("--url <url>", "the server", "http://127.0.0.1:8000")
    .option("--json", "print the server's JSON")
    .action(async (flags: { url: string; json?: boolean }) => {
      const list = (await call(flags.url, "GET", "/v1/models")) as { data: ModelJson[] };
      if (flags.json) return console.log(JSON.stringify(list, null, 2));
      const rows = [["MODEL", "STATE", "SIZE", "ESTIMATE", "MEMORY", "ALIASES"], ...list.data.map((m) => [
        m.id + (m.pinned ? " (pinned)" : ""), m.state, mib(m.size_bytes), mib(m.memory_estimate_bytes), mib(m.memory_bytes), m.aliases.join(","),
      ])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
      for (const m of list.data) if (m.error) console.log(`${m.id}: ${m.error}`);
    });
  for (const action of ["load", "unload"] as const) {
    models
      .command(`${action} <id>`)
      .description(`${action} a model on a running server`)
      .action(async (id: string, _flags: unknown, command: Command) => {
        const { url } = command.optsWithGlobals<{ url: string }>();
        const m = (await call(url, "POST", `/v1/models/${encodeURIComponent(id)}/${action}`)) as ModelJson;
        console.log(`${m.id}: ${m.state}${m.memory_bytes ? `, ${mib(m.memory_bytes)}` : ""}`);
      });
  }
}

async function call(url: string, method: string, path: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/+$/, "")}${path}`, { method, ...(method === "POST" ? { headers: { "content-type": "application/json" }, body: "{}" } : {}) });
  } catch (err) {
    throw new Error(`cannot reach ${url} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
  }
  const body = (await res.json()) as { error?: { message: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
}
