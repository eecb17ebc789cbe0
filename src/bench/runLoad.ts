import { Rng } from "../models/generator/random.ts";
import { sendRequest, type ClientOptions, type RequestResult } from "./client.ts";
import type { BenchPrompt } from "./scenarios.ts";

export interface LoadOptions extends ClientOptions {
  /** Requests to measure (the loop stops after this many, or at `durationS`, whichever is first). */
  requests: number;
  /** Requests in flight at most. */
  concurrency: number;
  /** Open loop: mean arrivals per second (Poisson); unset: closed loop at `concurrency`. */
  rate?: number;
  durationS?: number;
  /** Requests sent first and not measured. */
  warmup: number;
  prompt: (i: number) => BenchPrompt;
  onResult?: (r: RequestResult) => void;
}

export interface LoadRun {
  results: RequestResult[];
  durationMs: number;
}

/** Runs the warm-up, then the measured load; bounded in count and time, it always stops by itself. */
export async function runLoad(o: LoadOptions): Promise<LoadRun> {
  if (o.warmup > 0) await closedLoop({ ...o, requests: o.warmup, durationS: undefined, onResult: undefined }, 1_000_000);
  const started = performance.now();
  const results = o.rate ? await openLoop(o) : await closedLoop(o, 0);
  return { results, durationMs: performance.now() - started };
}

async function closedLoop(o: LoadOptions, firstIndex: number): Promise<RequestResult[]> {
  const results: RequestResult[] = [];
  const deadline = o.durationS ? performance.now() + o.durationS * 1000 : Infinity;
  let next = 0;
  const worker = async () => {
    while (next < o.requests && performance.now() < deadline) {
      const i = next++;
      const r = await sendRequest(o, o.prompt(firstIndex + i));
      results.push(r);
      o.onResult?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.requests) }, worker));
  return results;
}

/** Arrivals at exponential intervals (seeded), each waiting for a free place when `concurrency` are in flight. */
async function openLoop(o: LoadOptions): Promise<RequestResult[]> {
  const rng = new Rng(0x5eed);
  const results: RequestResult[] = [];
  const deadline = o.durationS ? performance.now() + o.durationS * 1000 : Infinity;
  const inFlight = new Set<Promise<void>>();
  let arrival = performance.now();
  for (let i = 0; i < o.requests; i++) {
    arrival += (-Math.log(1 - rng.u32() / 4294967296) / o.rate!) * 1000;
    if (arrival > deadline) break;
    const wait = arrival - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (inFlight.size >= o.concurrency) await Promise.race(inFlight);
    const p = sendRequest(o, o.prompt(i)).then((r) => {
      results.push(r);
      o.onResult?.(r);
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return results;
}
