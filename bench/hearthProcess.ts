import { spawn, type ChildProcess } from "node:child_process";
import { sseData } from "../src/util/sseData.ts";

/** `hearth serve` in a process of its own; resolves once its model is ready (or, `listening`, once it listens). */
export async function startHearth(args: string[], env: Record<string, string> = {}, ready: "model" | "listening" = "model"): Promise<{ child: ChildProcess; url: string; readyMs: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [new URL("../bin/hearth.js", import.meta.url).pathname, "serve", "--port", "0", "--log-level", "info", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  let out = "";
  let url = "";
  await new Promise<void>((resolve, reject) => {
    const onExit = () => reject(new Error(`hearth exited: ${out}`));
    const onData = (d: Buffer) => {
      out += d.toString();
      url ||= /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? "";
      if (url && (ready === "listening" || /"msg":"model \S+ ready/.test(out))) {
        // Once ready, the log is drained unread: kept and scanned, it made a long run's harness
        // slower minute by minute (a 30-minute soak's throughput fell 40% from this alone).
        child.stdout!.off("data", onData);
        child.off("exit", onExit);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
  });
  return { child, url, readyMs: performance.now() - t0 };
}

export interface StreamedCompletion {
  /** From sending the request to the first text. */
  ttftMs: number;
  /** From the first text to the last. */
  decodeMs: number;
  e2eMs: number;
  text: string;
  promptTokens: number;
  completionTokens: number;
}

/** One streamed /v1/completions request, timed by its SSE chunks. */
export async function streamCompletion(url: string, body: Record<string, unknown>): Promise<StreamedCompletion> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let first = 0;
  let last = 0;
  let text = "";
  let usage = { prompt_tokens: 0, completion_tokens: 0 };
  for await (const data of sseData(res.body!)) {
    if (!data.startsWith("{")) continue; // [DONE]
    const ev = JSON.parse(data) as { choices: { text: string }[]; usage?: typeof usage | null };
    if (ev.usage) usage = ev.usage;
    const piece = ev.choices[0]?.text;
    if (piece) {
      first ||= performance.now();
      last = performance.now();
      text += piece;
    }
  }
  return { ttftMs: first - t0, decodeMs: last - first, e2eMs: performance.now() - t0, text, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
}
