/**
 * What each protocol's adapter costs: the same one-turn chat, streamed, through OpenAI's chat
 * completions (the baseline), OpenAI's Responses API (stored, as its default is, and not), Anthropic's
 * Messages API and Ollama's /api/chat, one request at a time, interleaved so that all see the same
 * machine. The model is the generated tiny one (f16, one llama.cpp thread), so that the edge's share
 * shows; each request has a prompt of its own from the first token, so none reuses another's KV cells.
 *
 *   npm run bench:protocols -- [--rounds 200] [--tokens 8]
 */
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cacheDir } from "../src/config/dataDir.ts";
import { ensureGeneratedModel } from "./benchModel.ts";
import { startHearth } from "./hearthProcess.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "200" }, tokens: { type: "string", default: "8" } } });
const rounds = Number(values.rounds);
const tokens = Number(values.tokens);
const tiny = await ensureGeneratedModel(join(cacheDir(), "models"), "tiny", 7, "f16");
const data = `/tmp/hearth-bench-protocols-${process.pid}`;
const { child, url } = await startHearth(["--model", tiny, "--model-name", "m", "--threads", "1", "--ctx-size", "512"], { HEARTH_DATA_DIR: data });

/** Each protocol's request for the same turn, and the path it goes to. */
const protocols: Record<string, (text: string) => { path: string; body: object }> = {
  "chat completions": (text) => ({ path: "/v1/chat/completions", body: { model: "m", messages: [{ role: "user", content: text }], max_tokens: tokens, temperature: 0, stream: true } }),
  "responses (stored)": (text) => ({ path: "/v1/responses", body: { model: "m", input: text, max_output_tokens: tokens, temperature: 0, stream: true } }),
  "responses (store off)": (text) => ({ path: "/v1/responses", body: { model: "m", input: text, max_output_tokens: tokens, temperature: 0, stream: true, store: false } }),
  "anthropic messages": (text) => ({ path: "/v1/messages", body: { model: "m", messages: [{ role: "user", content: text }], max_tokens: tokens, temperature: 0, stream: true } }),
  "ollama /api/chat": (text) => ({ path: "/api/chat", body: { model: "m", messages: [{ role: "user", content: text }], options: { num_predict: tokens, temperature: 0 }, stream: true } }),
};

async function timed(path: string, body: object): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  await res.text();
  return performance.now() - t0;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
try {
  const names = Object.keys(protocols);
  const times = new Map(names.map((n) => [n, [] as number[]]));
  for (let i = 0; i < 10; i++) for (const n of names) { const r = protocols[n]!(`Warm ${n} ${i}: tell me about the fire.`); await timed(r.path, r.body); }
  for (let i = 0; i < rounds; i++) {
    // The order rotates each round, so that no protocol always follows the same one.
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length]!;
      const r = protocols[n]!(`${i} ${n}: tell me about the fire.`);
      times.get(n)!.push(await timed(r.path, r.body));
    }
  }
  const base = quantile(times.get(names[0]!)!, 0.5);
  console.log(`${rounds} rounds, ${tokens} tokens each, streamed, one at a time`);
  console.log("protocol               median ms   p90 ms   p99 ms   median vs chat completions");
  for (const n of names) {
    const t = times.get(n)!;
    const ms = (q: number) => quantile(t, q).toFixed(2).padStart(8);
    console.log(`${n.padEnd(22)} ${ms(0.5).padStart(9)} ${ms(0.9)} ${ms(0.99)}   ${(quantile(t, 0.5) / base).toFixed(3)}x`);
  }
} finally {
  child.kill("SIGTERM");
  await once(child, "exit");
  await rm(data, { recursive: true, force: true });
}
