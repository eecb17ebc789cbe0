import type { LlamaEmbeddingContext, LlamaModel, LlamaRankingContext, Token } from "node-llama-cpp";
import { errors } from "../../errors.ts";
import type { Embeddings, Ranking } from "../types.ts";

/** Told the runner's resident memory before and after an extra context was created, the first time. */
export type OnContext = (rssBeforeBytes: number, rssAfterBytes: number) => void;

/**
 * A model's llama.cpp contexts besides the generation context, each created on the first call that
 * needs it: one for embeddings, one for ranking. Each has one sequence, so its inputs are evaluated
 * one after another; a whole list is still one call (one IPC round trip), checked whole before any
 * input is evaluated, and stopped before the next input when its signal aborts.
 */
export class ExtraContexts {
  readonly #model: LlamaModel;
  readonly #modelId: string;
  /** The generation context's size: an input may be as long as a prompt. */
  readonly #size: number;
  readonly #threads: number;
  #embedding: Promise<LlamaEmbeddingContext> | undefined;
  #ranking: Promise<LlamaRankingContext> | undefined;

  constructor(model: LlamaModel, modelId: string, size: number, threads: number) {
    this.#model = model;
    this.#modelId = modelId;
    this.#size = size;
    this.#threads = threads;
  }

  /**
   * Embeddings for a list of inputs, one vector each (L2-normalized, as OpenAI's and llama-server's
   * are). node-llama-cpp's embedding context reads sequence 0's output: one input at a time.
   */
  async embed(inputs: readonly (string | readonly number[])[], vocabularySize: number, signal?: AbortSignal, onContext?: OnContext): Promise<Embeddings> {
    if (inputs.length === 0) throw errors.invalidRequest("'input' must not be empty.", "input");
    this.#embedding ??= this.#create("embedding", (o) => this.#model.createEmbeddingContext(o), () => { this.#embedding = undefined; }, onContext);
    const ctx = await this.#embedding;
    // node-llama-cpp refuses an input as long as the context: the last position stays free.
    const limit = this.#size - 1;
    const tokenized = inputs.map((input, i) => {
      const param = inputs.length === 1 ? "input" : `input[${i}]`;
      let tokens: Token[];
      if (typeof input === "string") {
        if (input.length === 0) throw errors.invalidRequest(`'${param}' is an empty string; embeddings need some text.`, param);
        tokens = this.#model.tokenize(input, false);
      } else {
        if (input.length === 0) throw errors.invalidRequest(`'${param}' is an empty list of token ids.`, param);
        const bad = input.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= vocabularySize);
        if (bad >= 0) throw errors.invalidRequest(`Token id ${input[bad]} at ${param}[${bad}] is outside the vocabulary (size ${vocabularySize}).`, param);
        tokens = input.slice() as Token[];
      }
      const length = ctx.calculateInputLength(tokens);
      if (length > limit) throw errors.contextLengthExceeded(length, undefined, limit, param);
      return { tokens, length };
    });
    const vectors: number[][] = [];
    let promptTokens = 0;
    for (const { tokens, length } of tokenized) {
      if (signal?.aborted) throw errors.invalidRequest("The request was cancelled.");
      const { vector } = await ctx.getEmbeddingFor(tokens);
      vectors.push(normalize(vector));
      promptTokens += length;
    }
    return { vectors, promptTokens };
  }

  /**
   * Relevance scores of documents for a query, from node-llama-cpp's ranking context (the model's
   * rerank template, or BOS/EOS/SEP around the query and the document; query and documents are
   * tokenized as plain text, so a document cannot inject the template's special tokens). `rank`
   * one document at a time, which `rankAll` also does under its lock, so a cancelled request stops
   * between documents.
   */
  async rank(query: string, documents: readonly string[], signal?: AbortSignal, onContext?: OnContext): Promise<Ranking> {
    // A model without a rank head would fail inside node-llama-cpp with a message a client cannot act on.
    if (!this.#model.fileInsights.supportsRanking) throw errors.notReranker(this.#modelId);
    if (documents.length === 0) throw errors.invalidRequest("'documents' must not be empty.", "documents");
    this.#ranking ??= this.#create("ranking", (o) => this.#model.createRankingContext(o), () => { this.#ranking = undefined; }, onContext);
    const ctx = await this.#ranking;
    // As for embeddings: node-llama-cpp refuses an input as long as the context.
    const limit = ctx.contextSize - 1;
    const alone = ctx.calculateInputLength(query, "");
    if (alone > limit) throw errors.contextLengthExceeded(alone, undefined, limit, "query");
    const lengths = documents.map((document, i) => {
      const length = ctx.calculateInputLength(query, document);
      if (length > limit) throw errors.contextLengthExceeded(length, undefined, limit, `documents[${i}]`);
      return length;
    });
    const scores: number[] = [];
    for (const document of documents) {
      if (signal?.aborted) throw errors.invalidRequest("The request was cancelled.");
      scores.push(await ctx.rank(query, document));
    }
    return { scores, promptTokens: lengths.reduce((a, b) => a + b, 0) };
  }

  async dispose(): Promise<void> {
    for (const ctx of [this.#embedding, this.#ranking]) await (await ctx?.catch(() => undefined))?.dispose();
  }

  /**
   * Creates an extra context with the generation context's size and a batch that holds a whole
   * input (models without causal attention need it in one batch). A failed creation is forgotten
   * (`forget`), so the next request tries again.
   */
  #create<C>(what: string, create: (o: { contextSize: number; batchSize: number; threads: number }) => Promise<C>, forget: () => void, onContext?: OnContext): Promise<C> {
    const before = process.memoryUsage.rss();
    return create({ contextSize: this.#size, batchSize: this.#size, threads: this.#threads }).then((ctx) => {
      onContext?.(before, process.memoryUsage.rss());
      return ctx;
    }, (err: unknown) => {
      forget();
      throw errors.engineFailed(`could not create the ${what} context: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}

/** Scaled to unit length (a zero vector stays as it is), so that a dot product is the cosine similarity; float32 precision. */
function normalize(vector: readonly number[]): number[] {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const norm = Math.sqrt(sum);
  // float32 values, as the model computes them: `float` and `base64` answers then carry the same numbers.
  return vector.map((x) => Math.fround(norm > 0 ? x / norm : x));
}
