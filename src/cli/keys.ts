import type { Command } from "commander";
import { callServer, printTable } from "./adminClient.ts";
import { keyOpt } from "./models.ts";
import { numberFlag } from "./numberFlag.ts";
import type { ApiKeyList, CreatedApiKey } from "../wire/apiKey.ts";
import type { UsageReport, UsageReportRow } from "../wire/usageReport.ts";

const limit = (n: number | null) => (n === null ? "-" : String(n));

/**
 * `hearth keys create|list|revoke` and `hearth usage`: through a running server's admin API, with the
 * admin key from --admin-key or HEARTH_ADMIN_KEY (the server owns the database: with embedded
 * PGlite no other process may open it).
 */
export function registerKeys(program: Command): void {
  const keys = program
    .command("keys")
    .description("create, list and revoke API keys on a running server")
    .option("--url <url>", "the server", "http://127.0.0.1:8000")
    .option("--admin-key <key>", "the admin key (default: HEARTH_ADMIN_KEY)");
  const server = (command: Command) => {
    const o = command.optsWithGlobals<{ url: string; adminKey?: string }>();
    return { url: o.url, ...keyOpt(o.adminKey) };
  };
  keys.command("create")
    .description("create a key and print it (shown once: only its hash is kept)")
    .requiredOption("--name <name>", "a name for the key, shown in usage reports")
    .option("--models <ids>", "comma-separated models it may use (default: all)")
    .option("--rpm <n>", "requests per minute", numberFlag("--rpm", { min: 1 }))
    .option("--tpm <n>", "tokens per minute", numberFlag("--tpm", { min: 1 }))
    .option("--max-parallel <n>", "requests in flight", numberFlag("--max-parallel", { min: 1 }))
    .action(async (flags: { name: string; models?: string; rpm?: number; tpm?: number; maxParallel?: number }, command: Command) => {
      const s = server(command);
      const created = (await callServer(s.url, "POST", "/v1/admin/keys", {
        ...s,
        body: {
          name: flags.name,
          ...(flags.models ? { models: flags.models.split(",").map((m) => m.trim()).filter(Boolean) } : {}),
          ...(flags.rpm !== undefined ? { rpm: flags.rpm } : {}),
          ...(flags.tpm !== undefined ? { tpm: flags.tpm } : {}),
          ...(flags.maxParallel !== undefined ? { max_parallel: flags.maxParallel } : {}),
        },
      })) as CreatedApiKey;
      console.log(created.key);
      console.error(`key '${created.name}' created; it is shown only this once`);
    });
  keys.command("list")
    .description("list keys (never the keys themselves)")
    .action(async (_flags: unknown, command: Command) => {
      const s = server(command);
      const list = (await callServer(s.url, "GET", "/v1/admin/keys", s)) as ApiKeyList;
      printTable([["NAME", "PREFIX", "MODELS", "RPM", "TPM", "PARALLEL", "CREATED", "REVOKED"], ...list.data.map((k) => [
        k.name, k.prefix, k.models?.join(",") ?? "all", limit(k.rpm), limit(k.tpm), limit(k.max_parallel),
        new Date(k.created_at * 1000).toISOString().slice(0, 19), k.revoked_at ? new Date(k.revoked_at * 1000).toISOString().slice(0, 19) : "-",
      ])]);
    });
  keys.command("revoke <name>")
    .description("revoke a key: it stops working at once on this server, within seconds on others")
    .action(async (name: string, _flags: unknown, command: Command) => {
      const s = server(command);
      await callServer(s.url, "DELETE", `/v1/admin/keys/${encodeURIComponent(name)}`, s);
      console.log(`key '${name}' revoked`);
    });

  program
    .command("usage")
    .description("requests and tokens from a running server's usage log")
    .option("--url <url>", "the server", "http://127.0.0.1:8000")
    .option("--api-key <key>", "the admin key (all usage) or an API key (its own) (default: HEARTH_ADMIN_KEY)")
    .option("--from <time>", "ISO 8601 or Unix seconds (default: 24 hours ago)")
    .option("--to <time>", "ISO 8601 or Unix seconds (default: now)")
    .option("--group-by <what>", "key, model, day or route (the protocol)", "model")
    .option("--key <name>", "only this key's requests")
    .option("--json", "print the server's JSON")
    .action(async (flags: { url: string; apiKey?: string; from?: string; to?: string; groupBy: string; key?: string; json?: boolean }) => {
      const q = new URLSearchParams({ group_by: flags.groupBy, ...(flags.from ? { from: flags.from } : {}), ...(flags.to ? { to: flags.to } : {}), ...(flags.key ? { key: flags.key } : {}) });
      const report = (await callServer(flags.url, "GET", `/v1/usage?${q}`, keyOpt(flags.apiKey))) as UsageReport;
      if (flags.json) return console.log(JSON.stringify(report, null, 2));
      const cols: (keyof UsageReportRow)[] = ["group", "requests", "prompt_tokens", "cached_tokens", "completion_tokens", "errors", "cancelled", "cache_hits"];
      printTable([cols.map((c) => (c === "group" ? flags.groupBy : c).toUpperCase()), ...report.data.map((r) => cols.map((c) => String(r[c] ?? "(none)")))]);
    });
}
