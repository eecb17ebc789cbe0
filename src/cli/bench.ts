import { readFile, writeFile } from "node:fs/promises";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { RequestResult } from "../bench/client.ts";
import { buildReport, compareReports, formatReport, type BenchReport } from "../bench/report.ts";
import { runLoad } from "../bench/runLoad.ts";
import { loadDataset, scenarioNames, scenarioPrompt, type BenchPrompt, type ScenarioName } from "../bench/scenarios.ts";
import { numberFlag } from "./numberFlag.ts";

interface BenchFlags {
  url: string;
  model?: string;
  requests: number;
  concurrency: number;
  rate?: number;
  scenario: string;
  dataset?: string;
  maxTokens: number;
  stream: boolean;
  apiKey?: string;
  duration?: number;
  warmup: number;
  timeoutMs: number;
  json?: string;
  compare?: string[];
  endpoint: string;
  temperature?: number;
}

const positive = (name: string, integer = true) => numberFlag(name, { integer, above: 0 });

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("load-test any OpenAI-compatible server (Hearth, llama-server, vLLM, Ollama) with vLLM's metrics: TTFT, TPOT, ITL, E2EL")
    .option("--url <url>", "server base URL", "http://127.0.0.1:8000")
    .option("--model <id>", "model to ask for (default: the first one the server lists)")
    .option("-n, --requests <n>", "requests to measure", positive("--requests"), 50)
    .option("-c, --concurrency <n>", "requests in flight at most", positive("--concurrency"), 4)
    .option("--rate <per-second>", "open loop: Poisson arrivals at this mean rate (concurrency still caps requests in flight)", positive("--rate", false))
    .option("--scenario <name>", `prompt set: ${scenarioNames.join(", ")} or all`, "short")
    .option("--dataset <file.jsonl>", "your own prompts, one JSON object per line ({messages} or {prompt}, optional max_tokens)")
    .option("--max-tokens <n>", "output tokens per request", positive("--max-tokens"), 128)
    .option("--no-stream", "send non-streamed requests (TTFT is then the whole request)")
    .option("--api-key <key>", "Bearer key (default: $OPENAI_API_KEY)")
    .option("--duration <seconds>", "stop sending new requests after this long", positive("--duration", false))
    .option("--warmup <n>", "requests sent first and not measured", numberFlag("--warmup", { min: 0 }), 0)
    .option("--timeout-ms <n>", "per-request timeout", positive("--timeout-ms"), 300_000)
    .option("--endpoint <name>", "chat (/v1/chat/completions) or completions (/v1/completions, the messages' text as the prompt: no chat template, no reply parser)", "chat")
    .option("--temperature <t>", "sampling temperature (default: the server's)", numberFlag("--temperature", { integer: false, min: 0 }))
    .option("--json <file>", "write the report as JSON")
    .option("--compare <files...>", "print two JSON reports side by side with ratios, and exit")
    .action(async (flags: BenchFlags) => {
      if (flags.compare) return compare(flags.compare);
      if (flags.endpoint !== "chat" && flags.endpoint !== "completions") throw new Error(`unknown endpoint '${flags.endpoint}'; choose chat or completions`);
      const model = flags.model ?? await firstModel(flags.url, flags.apiKey ?? process.env.OPENAI_API_KEY);
      const scenarios = flags.dataset ? ["dataset"] : flags.scenario === "all" ? scenarioNames : [flags.scenario];
      for (const s of scenarios) if (s !== "dataset" && !scenarioNames.includes(s as ScenarioName)) throw new Error(`unknown scenario '${s}'; choose ${scenarioNames.join(", ")} or all`);
      const dataset = flags.dataset ? await loadDataset(flags.dataset) : null;
      const reports: BenchReport[] = [];
      for (const name of scenarios) {
        const prompt = dataset ? (i: number) => dataset[i % dataset.length]! : (i: number): BenchPrompt => scenarioPrompt(name as ScenarioName, i);
        reports.push(await runScenario(flags, model, name, prompt));
        console.log(`${formatReport(reports.at(-1)!)}\n`);
      }
      if (flags.json) await writeFile(flags.json, `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
    });
}

async function runScenario(flags: BenchFlags, model: string, scenario: string, prompt: (i: number) => BenchPrompt): Promise<BenchReport> {
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: `${scenario.padEnd(8)} [{bar}] {value}/{total} requests | {failed} failed | {eta_formatted} left`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
    : null;
  let failed = 0;
  bar?.start(flags.requests, 0, { failed });
  const apiKey = flags.apiKey ?? process.env.OPENAI_API_KEY;
  const run = await runLoad({
    url: flags.url, model, maxTokens: flags.maxTokens, stream: flags.stream, timeoutMs: flags.timeoutMs,
    endpoint: flags.endpoint as "chat" | "completions",
    ...(flags.temperature !== undefined ? { temperature: flags.temperature } : {}),
    ...(apiKey ? { apiKey } : {}),
    requests: flags.requests, concurrency: flags.concurrency, warmup: flags.warmup, prompt,
    ...(flags.rate ? { rate: flags.rate } : {}),
    ...(flags.duration ? { durationS: flags.duration } : {}),
    onResult: (r: RequestResult) => {
      if (!r.ok) failed++;
      bar?.increment(1, { failed });
    },
  });
  bar?.stop();
  return buildReport(run.results, run.durationMs, {
    url: flags.url, model, scenario,
    config: {
      requests: flags.requests, concurrency: flags.concurrency, rate: flags.rate ?? null, max_tokens: flags.maxTokens,
      stream: flags.stream, warmup: flags.warmup, duration_limit_s: flags.duration ?? null,
    },
  });
}

async function firstModel(url: string, apiKey: string | undefined): Promise<string> {
  const res = await fetch(`${url.replace(/\/+$/, "")}/v1/models`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  if (!res.ok) throw new Error(`GET /v1/models answered ${res.status}; pass --model`);
  const id = ((await res.json()) as { data?: { id: string }[] }).data?.[0]?.id;
  if (!id) throw new Error("the server lists no model; pass --model");
  return id;
}

async function compare(files: string[]): Promise<void> {
  if (files.length !== 2) throw new Error("--compare takes two report files");
  const [a, b] = await Promise.all(files.map(async (f) => {
    const parsed = JSON.parse(await readFile(f, "utf8")) as BenchReport | BenchReport[];
    return Array.isArray(parsed) ? parsed : [parsed];
  }));
  for (const ra of a!) {
    const rb = b!.find((r) => r.scenario === ra.scenario) ?? (b!.length === 1 ? b![0] : undefined);
    if (!rb) continue;
    console.log(`${compareReports(ra, rb)}\n`);
  }
}
