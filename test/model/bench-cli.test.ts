import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import parsePrometheus from "parse-prometheus-text-format";
import type { BenchReport } from "../../src/bench/report.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const run = promisify(execFile);
const hearth = new URL("../../bin/hearth.js", import.meta.url).pathname;
let server: TestServer;
before(async () => { server = await startServer({ config: { inference: { context_length: 256 } } }); });
after(() => server.close());

test("hearth bench reports every field, and its counts equal the server's own", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hearth-bench-"));
  // Every third prompt is too long for the context: the server refuses it with a 400.
  const dataset = [
    { messages: [{ role: "user", content: "short question" }] },
    { prompt: "another short one", max_tokens: 6 },
    { prompt: "z".repeat(400) },
  ];
  await writeFile(join(dir, "prompts.jsonl"), dataset.map((d) => JSON.stringify(d)).join("\n"));
  const out = join(dir, "report.json");
  const { stdout } = await run(process.execPath, [hearth, "bench", "--url", server.url, "--dataset", join(dir, "prompts.jsonl"),
    "--requests", "9", "--concurrency", "3", "--max-tokens", "8", "--json", out]);
  assert.match(stdout, /TTFT/);
  const report = JSON.parse(await readFile(out, "utf8")) as BenchReport;

  for (const key of ["tool", "created_at", "url", "model", "scenario", "config", "duration_s", "completed", "failed", "error_rate", "errors",
    "total_input_tokens", "total_output_tokens", "request_throughput", "output_throughput", "total_token_throughput"] as const) {
    assert.ok(report[key] !== undefined, `report has ${key}`);
  }
  for (const metric of ["ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"] as const) {
    for (const stat of ["count", "mean", "std", "p50", "p90", "p95", "p99", "max"] as const) assert.equal(typeof report[metric][stat], "number", `${metric}.${stat}`);
  }
  assert.equal(report.model, "tiny", "the model defaults to the first one the server lists");
  assert.equal(report.completed, 6);
  assert.equal(report.failed, 3);
  assert.deepEqual(report.errors, { http_400: 3 });
  assert.ok(report.ttft_ms.p50 > 0 && report.e2el_ms.p50 >= report.ttft_ms.p50);

  const families = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
  const counted = (status: string) => Number(families.find((f) => f.name === "hearth_requests_total")!.metrics
    .find((m) => m.labels?.route === "/v1/chat/completions" && m.labels.status === status)?.value ?? 0);
  assert.equal(counted("200"), report.completed, "the server counted as many successes");
  assert.equal(counted("400"), report.failed, "and as many failures");
  const generated = Number(families.find((f) => f.name === "hearth_generation_tokens_total")!.metrics[0]!.value);
  assert.equal(generated, report.total_output_tokens);

  const { stdout: compared } = await run(process.execPath, [hearth, "bench", "--compare", out, out]);
  assert.match(compared, /output tok\/s\s+[\d.]+\s+[\d.]+\s+1\.00x/);
});

test("hearth bench refuses a flag value it cannot use, naming the flag", async () => {
  for (const [flag, value, says] of [["--warmup", "abc", "--warmup must be an integer of at least 0"], ["--rate", "0", "--rate must be a number above 0"]] as const) {
    await assert.rejects(run(process.execPath, [hearth, "bench", "--url", server.url, flag, value]),
      (e: { code?: number; stderr?: string }) => e.code === 1 && e.stderr!.includes(says), `${flag} ${value}`);
  }
});
