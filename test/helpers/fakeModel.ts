import { createHash } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import { StopMatcher } from "../../src/engine/StopMatcher.ts";
import { emptyStepStats } from "../../src/engine/stepStats.ts";
import type { EngineEvent, FinishReason, GenerateRequest, ModelInfo, ModelSnapshot, Prompt, Ranking, Usage } from "../../src/engine/types.ts";
import type { SlotInfo } from "../../src/scheduler/types.ts";
import { errors } from "../../src/errors.ts";
import type { ModelDefaults } from "../../src/models/registry/ModelRegistry.ts";
import type { ServedModel } from "../../src/serving/ServedModel.ts";

/** The words the fake answers with, in turn: ASCII and multi-byte text, so both reach the client. */
const FAKE_WORDS = ["Hello", " from", " the", " fake", " model", ".", " Ünïcödé", " ✓", " and", " more", " words", "\n"] as const;

/** Token ids are bytes: 256 of them. */
function checkTokens(tokens: readonly number[], param: string): void {
  if (tokens.some((t) => t > 255)) throw errors.invalidRequest("A token id is outside the vocabulary (256 tokens).", param);
}

export interface FakeModelOptions {
  id?: string;
  aliases?: string[];
  /** Tokens of context: a prompt and its max_tokens must fit, as on a real model. */
  contextSize?: number;
  /** Tokens generated when a request gives no max_tokens. */
  replyTokens?: number;
  defaults?: ModelDefaults;
}

/**
 * A deterministic stand-in for a model, for the tests of everything above the engine: routes,
 * transports, auth, limits, the usage log, conversations, errors. No runner process and no
 * llama.cpp: what those do is tested against real models in test/model. It is a ServedModel behind
 * the real router, so request tracking, usage rows and metrics run as they do in production.
 * Prompt tokens are the UTF-8 bytes of the prompt as rendered here; the reply is FAKE_WORDS in turn,
 * one word a token, until max_tokens (or `replyTokens`), a stop string, or the client goes away.
 */
export class FakeModel implements ServedModel {
  readonly id: string;
  readonly aliases: readonly string[];
  readonly defaults: ModelDefaults;
  readonly #contextSize: number;
  readonly #replyTokens: number;
  readonly #created = Math.floor(Date.now() / 1000);
  /** A slot per request being generated, as /v1/slots shows them; no queue, no limit. */
  readonly #running = new Map<string, SlotInfo>();
  readonly #stats = emptyStepStats();
  #nextSlot = 0;

  constructor(opts: FakeModelOptions = {}) {
    this.id = opts.id ?? "tiny";
    this.aliases = opts.aliases ?? [];
    this.defaults = opts.defaults ?? {};
    this.#contextSize = opts.contextSize ?? 1024;
    this.#replyTokens = opts.replyTokens ?? 16;
  }

  info(): ModelInfo {
    return { id: this.id, state: "loaded", created: this.#created, contextSize: this.#contextSize, aliases: [...this.aliases] };
  }

  async *generate(req: GenerateRequest, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    const prompt = this.#promptTokens(req.prompt);
    if (prompt + (req.maxTokens ?? 0) > this.#contextSize) {
      throw errors.contextLengthExceeded(prompt, req.maxTokens, this.#contextSize, req.prompt.kind === "chat" ? "messages" : "prompt");
    }
    yield { type: "accepted", promptTokens: prompt };
    const slot: SlotInfo = { id: this.#nextSlot++, state: "decoding", requestId: req.id, promptTokens: prompt, cachedTokens: 0, prefilledTokens: prompt, generatedTokens: 0 };
    this.#running.set(req.id, slot);
    this.#stats.promptTokens += prompt;
    const started = performance.now();
    const stops = new StopMatcher(req.stop);
    const limit = Math.min(req.maxTokens ?? this.#replyTokens, this.#contextSize - prompt);
    let generated = 0;
    let reason: FinishReason = "length";
    try {
      while (generated < limit) {
        // A turn of the event loop per token, as a runner's steps give: cancellation and other requests get in.
        await nextTurn();
        if (signal.aborted) { reason = "cancelled"; break; }
        const word = FAKE_WORDS[generated % FAKE_WORDS.length]!;
        generated++;
        slot.generatedTokens = generated;
        this.#stats.steps++;
        this.#stats.decodedTokens++;
        const { text, stopped } = stops.push(word);
        if (text) yield { type: "text", text, ...(req.logprobs !== undefined ? { logprobs: [fakeLogprob(word, req.logprobs)] } : {}) };
        if (stopped) { reason = "stop"; break; }
      }
      if (reason === "length") {
        const rest = stops.flush();
        if (rest) yield { type: "text", text: rest };
      }
    } finally {
      this.#running.delete(req.id);
    }
    const usage: Usage = { promptTokens: prompt, completionTokens: generated, cachedPromptTokens: 0 };
    const ms = performance.now() - started;
    yield {
      type: "final", reason, usage,
      timings: { queueMs: 0, promptMs: 0, generationMs: ms, promptEvaluated: prompt, promptCached: 0, completionTokens: generated },
      ...(reason === "stop" && stops.matched !== null ? { stopSequence: stops.matched } : {}),
    };
  }

  async embed(inputs: (string | number[])[]): Promise<{ vectors: number[][]; promptTokens: number }> {
    let promptTokens = 0;
    const vectors = inputs.map((input, i) => {
      const tokens = typeof input === "string" ? Buffer.from(input) : input;
      if (tokens.length === 0) throw errors.invalidRequest("An input is empty.", inputs.length === 1 ? "input" : `input[${i}]`);
      promptTokens += tokens.length;
      const digest = createHash("sha256").update(JSON.stringify(input)).digest();
      const v = [...digest.subarray(0, 8)].map((b) => b - 127.5);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
    return { vectors, promptTokens };
  }

  /**
   * A score in [0, 1) from a hash of the query and the document, so that the same pair always gets
   * the same score and a document's score does not depend on the others. Each document's tokens
   * are its bytes and the query's, which must fit the context.
   */
  async rank(query: string, documents: string[]): Promise<Ranking> {
    if (documents.length === 0) throw errors.invalidRequest("'documents' must not be empty.", "documents");
    const lengths = documents.map((d, i) => {
      const n = Buffer.byteLength(query) + Buffer.byteLength(d);
      if (n > this.#contextSize) throw errors.contextLengthExceeded(n, undefined, this.#contextSize, `documents[${i}]`);
      return n;
    });
    const scores = documents.map((d) => createHash("sha256").update(JSON.stringify([query, d])).digest().readUInt32BE(0) / 2 ** 32);
    return { scores, promptTokens: lengths.reduce((a, b) => a + b, 0) };
  }

  async tokenize(text: string, opts: { withPieces: boolean }): Promise<{ tokens: number[]; pieces?: string[] }> {
    const tokens = [...Buffer.from(text)];
    return { tokens, ...(opts.withPieces ? { pieces: tokens.map((t) => String.fromCharCode(t)) } : {}) };
  }

  /** The prompt as generate renders it (template options change nothing here). */
  async countTokens(prompt: Prompt): Promise<number> {
    return this.#promptTokens(prompt);
  }

  async detokenize(tokens: number[]): Promise<string> {
    checkTokens(tokens, "tokens");
    return Buffer.from(tokens).toString();
  }

  /** Always loaded: there is nothing to load or free. */
  async load(): Promise<void> {}
  async unload(): Promise<void> {}

  async snapshot(): Promise<ModelSnapshot> {
    const slots = [...this.#running.values()].map((s) => ({ ...s }));
    return { id: this.id, queued: 0, busySlots: slots.length, slots, stats: { ...this.#stats }, kvUsedTokens: 0, kvTotalTokens: 0, rssBytes: 0, cpuSeconds: 0 };
  }

  activity() { return { id: this.id, inFlight: this.#running.size, slots: this.#running.size, cpuSeconds: 0 }; }
  async close(): Promise<void> {}

  /** The prompt as this fake renders it: one line per message, then the assistant's turn. */
  #promptTokens(prompt: Prompt): number {
    switch (prompt.kind) {
      case "tokens":
        checkTokens(prompt.tokens, "prompt");
        return prompt.tokens.length;
      case "text": return Buffer.byteLength(prompt.text);
      case "chat": return Buffer.byteLength(prompt.messages.map((m) => `${m.role}: ${m.content}\n`).join("") + "assistant:");
    }
  }
}

function fakeLogprob(token: string, top: number) {
  const entry = { token, bytes: [...Buffer.from(token)], logprob: -0.5 };
  return { ...entry, top: Array.from({ length: top }, (_, i) => (i === 0 ? entry : { token: `alt${i}`, bytes: [...Buffer.from(`alt${i}`)], logprob: -1 - i })) };
}
