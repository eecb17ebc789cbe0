import type { Command } from "commander";
import { callServer, printTable } from "./adminClient.ts";
import type { Model, ModelList } from "../wire/model.ts";

const mib = (b: number | null) => (b === null ? "-" : `${(b / 1048576).toFixed(0)} MiB`);

/** `hearth models`: what a running server serves, with state and memory; `load` and `unload` one. */
export function registerModels(program: Command): void {
  const models = program
    .command("models")
    .description("list a running server's models with their state and memory")
    .option("--url <url>", "the server", "http://127.0.0.1:8000")
    .option("--api-key <key>", "a key, when the server requires one (default: HEARTH_ADMIN_KEY)")
    .option("--json", "print the server's JSON")
    .action(async (flags: { url: string; apiKey?: string; json?: boolean }) => {
      const list = (await callServer(flags.url, "GET", "/v1/models", keyOpt(flags.apiKey))) as ModelList;
      if (flags.json) return console.log(JSON.stringify(list, null, 2));
      const rows = [["MODEL", "STATE", "SIZE", "ESTIMATE", "MEMORY", "ALIASES"], ...list.data.map((m) => [
        m.id + (m.pinned ? " (pinned)" : ""), m.state, mib(m.size_bytes), mib(m.memory_estimate_bytes), mib(m.memory_bytes), m.aliases.join(","),
      ])];
      printTable(rows);
      for (const m of list.data) if (m.error) console.log(`${m.id}: ${m.error}`);
    });
  for (const action of ["load", "unload"] as const) {
    models
      .command(`${action} <id>`)
      .description(`${action} a model on a running server`)
      .action(async (id: string, _flags: unknown, command: Command) => {
        const { url, apiKey } = command.optsWithGlobals<{ url: string; apiKey?: string }>();
        const m = (await callServer(url, "POST", `/v1/models/${encodeURIComponent(id)}/${action}`, keyOpt(apiKey))) as Model;
        console.log(`${m.id}: ${m.state}${m.memory_bytes ? `, ${mib(m.memory_bytes)}` : ""}`);
      });
  }
}

/** The key to send: the flag, else the admin key from the environment, else none. */
export function keyOpt(flag: string | undefined): { key?: string } {
  const key = flag ?? process.env.HEARTH_ADMIN_KEY;
  return key ? { key } : {};
}
