import { errors, HearthError } from "../../errors.ts";
import { sseData } from "../../util/sseData.ts";
import { endedByToolCalls, finalEvent } from "../../engine/finalEvent.ts";
import type { Embeddings, EngineEvent, FinishReason, GenerateRequest, ModelInfo, ModelSnapshot, Ranking, UpstreamStatus } from "../../engine/types.ts";
import type { ModelDefaults } from "../../models/registry/ModelRegistry.ts";
import type { ServedModel } from "../ServedModel.ts";
import { ChunkReader, type Chunk } from "./ChunkReader.ts";
import { openaiRequest } from "./openaiRequest.ts";
import type { Tokenizer } from "./Tokenizer.ts";
import { UpstreamPool, type Upstream, type UpstreamTarget } from "./UpstreamPool.ts";

export interface UpstreamModelOptions {
  id: string;
  aliases: string[];
  targets: UpstreamTarget[];
  /** `prefix`: a conversation's requests go to one upstream (its prompt cache), as long as it is healthy. */
  affinity: "none" | "prefix";
  /** Counts tokens an upstream does not report; without it they are estimated (4 characters a token). */
  tokenizer?: Tokenizer;
  /** Sampling defaults for requests that set none (config `defaults:`). */
  defaults?: ModelDefaults;
  /** Active health checks: GET {url}/models this often (ms); 0: only requests tell. */
  healthIntervalMs?: number;
  log?: (level: "info" | "warn", message: string) => void;
}

const HEALTH_TIMEOUT_MS = 5_000;

/**
 * A model served by OpenAI-compatible servers (vLLM, llama-server, other Hearths) behind the same
 * engine contract as a local runner: streamed chunk by chunk, usage from the upstream (or counted),
 * cancellation forwarded by closing the connection, errors turned into Hearth's. A request goes to
 * the pool's pick; a connection error, a 5xx or a 429 before the response starts sends it to the
 * next upstream (nothing has reached the client yet); after that, an error ends it.
 */
export class UpstreamModel implements ServedModel {
  readonly #pool: UpstreamPool;
  readonly #o: UpstreamModelOptions;
  readonly #created = Math.floor(Date.now() / 1000);
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: UpstreamModelOptions) {
    this.#o = opts;
    this.#pool = new UpstreamPool(opts.targets);
    const every = opts.healthIntervalMs ?? 10_000;
    if (every > 0) {
      this.#timer = setInterval(() => void this.checkHealth(), every);
      this.#timer.unref();
    }
  }

  get id(): string { return this.#o.id; }
  get aliases(): readonly string[] { return this.#o.aliases; }
  get defaults(): ModelDefaults { return this.#o.defaults ?? {}; }

  /** Always ready where its servers are: nothing to load here. */
  async load(): Promise<void> {}

  async unload(): Promise<void> {
    throw errors.invalidRequest(`The model '${this.#o.id}' is served by upstream servers: there is nothing to unload here.`, "model");
  }

  tokenize(): Promise<never> {
    return Promise.reject(this.#notHere());
  }

  detokenize(): Promise<never> {
    return Promise.reject(this.#notHere());
  }

  /**
   * Refused: its servers render the prompt with their own templates, and the Tokenizer (a GGUF's
   * vocabulary) counts text without them, so any count here would only be an estimate.
   */
  countTokens(): Promise<never> {
    return Promise.reject(errors.unsupported(`The model '${this.#o.id}' is served by upstream servers: Hearth cannot count its prompt tokens exactly (the upstream applies its own chat template).`, "model"));
  }

  /** Each of its servers, as metrics report them. */
  upstreams(): UpstreamStatus[] {
    return this.#pool.upstreams.map((u) => ({ model: this.#o.id, upstream: u.label, healthy: u.healthy, inFlight: u.inFlight, requests: u.requests, errors: u.errors }));
  }

  /** Its servers' live figures are theirs: /metrics reports the pool instead (UpstreamStatus). */
  async snapshot(): Promise<ModelSnapshot | null> { return null; }
  activity(): null { return null; }

  #notHere(): HearthError {
    return errors.unsupported(`The model '${this.#o.id}' is served by upstream servers, which do not tokenize for Hearth.`, "model");
  }

  info(): ModelInfo {
    const up = this.#pool.upstreams.some((u) => u.healthy);
    return {
      id: this.#o.id,
      state: up ? "loaded" : "failed",
      created: this.#created,
      contextSize: 0,
      aliases: [...this.#o.aliases],
      ...(up ? {} : { error: "no upstream answers" }),
    };
  }

  /** Asks every upstream for its model list; one that answers is healthy, one that does not is cooled down. */
  async checkHealth(): Promise<void> {
    await Promise.all(this.#pool.upstreams.map(async (u) => {
      try {
        const res = await fetch(`${u.url}/models`, { headers: headers(u), signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
        await res.body?.cancel();
        if (res.ok) {
          if (!u.healthy) this.#o.log?.("info", `upstream ${u.label} of '${this.#o.id}' answers again`);
          this.#pool.succeeded(u);
        } else this.#down(u, `health check: HTTP ${res.status}`);
      } catch (err) {
        this.#down(u, `health check: ${describe(err)}`);
      }
    }));
  }

  async *generate(req: GenerateRequest, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    const started = performance.now();
    const key = this.#o.affinity === "prefix" ? affinityKey(req) : undefined;
    const { u, res } = await this.#open((u) => openaiRequest(req, u.model), signal, key);
    try {
      yield* this.#stream(req, res, signal, started);
    } finally {
      this.#pool.end(u);
    }
  }

  /** Embeddings from the first upstream that answers. */
  async embed(inputs: (string | number[])[], signal?: AbortSignal): Promise<Embeddings> {
    const { u, res } = await this.#open((u) => ({ path: "/embeddings", body: { model: u.model, input: inputs, encoding_format: "float" } }), signal ?? new AbortController().signal);
    try {
      const json = await res.json() as { data: { index: number; embedding: number[] }[]; usage?: { prompt_tokens?: number } };
      const vectors = [...json.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return { vectors, promptTokens: json.usage?.prompt_tokens ?? 0 };
    } finally {
      this.#pool.end(u);
    }
  }

  /**
   * Relevance scores from the first upstream that answers, through its `/rerank` (llama-server's,
   * vLLM's, Jina's and another Hearth's shape): every document asked back, in the upstream's order
   * and put back in ours by `index`.
   */
  async rank(query: string, documents: string[], signal?: AbortSignal): Promise<Ranking> {
    const body = (u: Upstream) => ({ path: "/rerank", body: { model: u.model, query, documents, top_n: documents.length, return_documents: false } });
    const { u, res } = await this.#open(body, signal ?? new AbortController().signal);
    try {
      const json = await res.json() as { results?: { index?: unknown; relevance_score?: unknown }[]; usage?: { prompt_tokens?: number; total_tokens?: number } };
      const scores = new Array<number | undefined>(documents.length).fill(undefined);
      for (const r of json.results ?? []) {
        if (typeof r.index === "number" && typeof r.relevance_score === "number" && r.index >= 0 && r.index < documents.length) scores[r.index] = r.relevance_score;
      }
      const missing = scores.indexOf(undefined);
      if (missing >= 0) throw errors.upstreamFailed(this.#o.id, `its rerank answer has no score for document ${missing}`);
      return { scores: scores as number[], promptTokens: json.usage?.prompt_tokens ?? json.usage?.total_tokens ?? 0 };
    } finally {
      this.#pool.end(u);
    }
  }

  /**
   * Sends a request to the pool's pick until one answers 2xx, and returns that answer with its
   * upstream, still counted in flight (the caller ends it). A connection error, a 5xx or a 429 tries
   * the next upstream (nothing has reached the client yet); another 4xx is the request's own fault,
   * the same everywhere, and is thrown as the upstream's error.
   */
  async #open(request: (u: Upstream) => { path: string; body: object }, signal: AbortSignal, affinity?: string): Promise<{ u: Upstream; res: Response }> {
    const tried = new Set<Upstream>();
    let lastError: HearthError | null = null;
    for (;;) {
      if (signal.aborted) throw errors.engineFailed("the request was cancelled before an upstream answered");
      const u = this.#pool.pick(tried, affinity);
      if (!u) throw lastError ?? errors.upstreamUnavailable(this.#o.id);
      tried.add(u);
      this.#pool.begin(u);
      let res: Response;
      try {
        const { path, body } = request(u);
        res = await this.#post(u, path, body, signal);
      } catch (err) {
        this.#pool.end(u);
        if (signal.aborted) throw errors.engineFailed("the request was cancelled before an upstream answered");
        this.#down(u, describe(err));
        lastError = errors.upstreamUnavailable(this.#o.id);
        continue;
      }
      if (res.ok) {
        this.#pool.succeeded(u);
        return { u, res };
      }
      this.#pool.end(u);
      const err = await upstreamError(res, this.#o.id);
      if (res.status < 500 && res.status !== 429) throw err;
      if (res.status >= 500) this.#down(u, `HTTP ${res.status}`);
      lastError = err;
    }
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** POSTs JSON; the timeout covers the wait for the response's start only. */
  async #post(u: Upstream, path: string, body: object, signal: AbortSignal): Promise<Response> {
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal.addEventListener("abort", abort, { once: true });
    const timer = setTimeout(() => controller.abort(new Error(`no response within ${u.timeoutMs} ms`)), u.timeoutMs);
    try {
      return await fetch(`${u.url}${path}`, {
        method: "POST",
        headers: { ...headers(u), "content-type": "application/json", accept: "text/event-stream, application/json" },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async *#stream(req: GenerateRequest, res: Response, signal: AbortSignal, started: number): AsyncGenerator<EngineEvent> {
    const promptTokens = await this.#count(promptText(req));
    yield { type: "accepted", promptTokens };
    const r = new ChunkReader(req);
    let firstTextAt = 0;
    let failure: HearthError | null = null;
    try {
      for await (const data of sseData(res.body!)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data) as Chunk;
        if (chunk.error) {
          failure = new HearthError({ code: chunk.error.code ?? "upstream_error", statusCode: 502, type: "server_error", message: `The upstream serving '${this.#o.id}' failed: ${chunk.error.message ?? "no reason given"}` });
          break;
        }
        const events = r.read(chunk);
        if (events.length > 0) firstTextAt ||= performance.now();
        yield* events;
      }
    } catch (err) {
      if (!signal.aborted) failure = errors.upstreamFailed(this.#o.id, describe(err));
    }
    if (!failure && !signal.aborted) yield* r.end();
    const usage = r.usage ?? { promptTokens, completionTokens: await this.#count(r.output), cachedPromptTokens: 0 };
    const now = performance.now();
    const reason: FinishReason = signal.aborted ? "cancelled" : failure ? "error" : endedByToolCalls(r.reason ?? "stop", r.madeCalls);
    yield finalEvent(reason, usage, {
      queueMs: 0,
      promptMs: (firstTextAt || now) - started,
      generationMs: firstTextAt ? now - firstTextAt : 0,
    }, failure && !signal.aborted ? failure.toWire() : undefined, r.stopSequence);
  }

  async #count(text: string): Promise<number> {
    if (text === "") return 0;
    if (this.#o.tokenizer) {
      try {
        return await this.#o.tokenizer.count(text);
      } catch { /* estimated below */ }
    }
    return Math.ceil(text.length / 4);
  }

  #down(u: Upstream, reason: string): void {
    if (u.healthy) this.#o.log?.("warn", `upstream ${u.label} of '${this.#o.id}' is down (${reason}); cooled down and probed again`);
    this.#pool.failed(u);
  }
}

function headers(u: Upstream): Record<string, string> {
  return u.apiKey ? { authorization: `Bearer ${u.apiKey}` } : {};
}

/** An upstream's error answer as Hearth's: its OpenAI error object when it sent one. */
async function upstreamError(res: Response, model: string): Promise<HearthError> {
  let body: { error?: { message?: string; type?: string; param?: string | null; code?: string | null } } = {};
  try {
    body = await res.json() as typeof body;
  } catch { /* not JSON */ }
  const e = body.error;
  if (res.status >= 500 || !e?.message) return errors.upstreamFailed(model, `HTTP ${res.status}${e?.message ? `: ${e.message}` : ""}`);
  const type = res.status === 429 ? "rate_limit_error" : res.status === 401 ? "authentication_error" : res.status === 403 ? "permission_error" : res.status === 404 ? "not_found_error" : "invalid_request_error";
  return new HearthError({ code: e.code ?? "upstream_error", statusCode: res.status === 401 || res.status === 403 ? 502 : res.status, type: res.status === 401 || res.status === 403 ? "server_error" : type, message: e.message, param: e.param ?? null });
}

/** The requests of one conversation share its first messages (system prompt and first user turn). */
function affinityKey(req: GenerateRequest): string {
  if (req.prompt.kind !== "chat") return req.prompt.kind === "text" ? req.prompt.text.slice(0, 2048) : req.prompt.tokens.slice(0, 512).join(",");
  const firstUser = req.prompt.messages.findIndex((m) => m.role === "user");
  return JSON.stringify(req.prompt.messages.slice(0, firstUser + 1).map((m) => [m.role, m.content]));
}

function promptText(req: GenerateRequest): string {
  if (req.prompt.kind === "text") return req.prompt.text;
  if (req.prompt.kind === "tokens") return "";
  return req.prompt.messages.map((m) => m.content).join("\n");
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
