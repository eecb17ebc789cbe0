import type { BenchPrompt } from "./scenarios.ts";
import { sseData } from "../util/sseData.ts";

export interface RequestResult {
  ok: boolean;
  /** Why it failed: `http_<status>`, `timeout`, `connection`, `stream_error`. */
  errorKind?: string;
  startedAt: number;
  ttftMs: number | null;
  e2eMs: number;
  /** Gaps between successive chunks that carried text (vLLM's ITL). */
  itlMs: number[];
  promptTokens: number;
  outputTokens: number;
}

export interface ClientOptions {
  url: string;
  model: string;
  apiKey?: string;
  maxTokens: number;
  stream: boolean;
  timeoutMs: number;
  /** chat: /v1/chat/completions; completions: /v1/completions with the messages' text as the prompt (no chat template, no reply parser). */
  endpoint?: "chat" | "completions";
  /** Sampling temperature; unset: the server's default. */
  temperature?: number;
}

/**
 * Sends one chat completion to any OpenAI-compatible server and times it. Token counts come from
 * the server's `usage` (streams ask for it with `stream_options.include_usage`); a server that sends
 * no usage gets its text chunks counted instead.
 */
export async function sendRequest(opts: ClientOptions, prompt: BenchPrompt): Promise<RequestResult> {
  const startedAt = performance.now();
  const base = { ok: false, startedAt, ttftMs: null, e2eMs: 0, itlMs: [] as number[], promptTokens: 0, outputTokens: 0 };
  const fail = (errorKind: string): RequestResult => ({ ...base, errorKind, e2eMs: performance.now() - startedAt });
  const completions = opts.endpoint === "completions";
  const body = {
    model: opts.model,
    ...(completions ? { prompt: promptText(prompt) } : { messages: prompt.messages }),
    max_tokens: prompt.maxTokens ?? opts.maxTokens,
    stream: opts.stream,
    ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
    ...(opts.stream ? { stream_options: { include_usage: true } } : {}),
  };
  let res: Response;
  try {
    res = await fetch(`${opts.url.replace(/\/+$/, "")}/v1/${completions ? "completions" : "chat/completions"}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    return fail((err as Error).name === "TimeoutError" ? "timeout" : "connection");
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    return fail(`http_${res.status}`);
  }
  try {
    return opts.stream ? await readStream(res, base) : await readJson(res, base);
  } catch (err) {
    return fail((err as Error).name === "TimeoutError" ? "timeout" : "connection");
  }
}

async function readJson(res: Response, base: RequestResult): Promise<RequestResult> {
  const json = (await res.json()) as { usage?: { prompt_tokens: number; completion_tokens: number } };
  const e2eMs = performance.now() - base.startedAt;
  return { ...base, ok: true, ttftMs: e2eMs, e2eMs, promptTokens: json.usage?.prompt_tokens ?? 0, outputTokens: json.usage?.completion_tokens ?? 0 };
}

async function readStream(res: Response, base: RequestResult): Promise<RequestResult> {
  const r = { ...base };
  let chunks = 0;
  let last = 0;
  let usage = null as { prompt_tokens: number; completion_tokens: number } | null;
  let streamError = false;
  for await (const data of sseData(res.body!)) {
    if (!data.trim() || data.trim() === "[DONE]") continue;
    const ev = JSON.parse(data) as { error?: unknown; usage?: typeof usage; choices?: { delta?: { content?: string | null }; text?: string }[] };
    if (ev.error) streamError = true;
    if (ev.usage) usage = ev.usage;
    if (ev.choices?.[0]?.delta?.content || ev.choices?.[0]?.text) {
      const now = performance.now();
      if (r.ttftMs === null) r.ttftMs = now - r.startedAt;
      else r.itlMs.push(now - last);
      last = now;
      chunks++;
    }
  }
  r.e2eMs = performance.now() - r.startedAt;
  if (streamError) return { ...r, errorKind: "stream_error" };
  return { ...r, ok: true, promptTokens: usage?.prompt_tokens ?? 0, outputTokens: usage?.completion_tokens ?? chunks };
}

/** A chat prompt as plain text for /v1/completions: the messages' contents, one per paragraph. */
function promptText(prompt: BenchPrompt): string {
  return prompt.messages.map((m) => m.content).join("\n\n");
}
