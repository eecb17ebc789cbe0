import { Type, type Static } from "typebox";

const Strict = { additionalProperties: false } as const;

/**
 * Every setting, with its default. A setting with a `flag` is also a `hearth serve --flag` and a
 * `HEARTH_FLAG` environment variable (see options.ts): its names are written here and nowhere else. Keys under `inference` and `batching` keep the meaning they have
 * in the seeds' `max-serve-config.yaml`. Units are in the names.
 */
export const ConfigSchema = Type.Object({
  host: Type.String({ default: "127.0.0.1", minLength: 1, flag: "host", description: "address to listen on" }),
  port: Type.Integer({ default: 8000, minimum: 0, maximum: 65535, flag: "port", short: "p", description: "port to listen on" }),
  log_level: Type.Union([Type.Literal("fatal"), Type.Literal("error"), Type.Literal("warn"), Type.Literal("info"), Type.Literal("debug"), Type.Literal("trace"), Type.Literal("silent")], { default: "info", flag: "log-level", description: "fatal, error, warn, info, debug, trace or silent" }),
  /** Largest request body accepted; larger ones get 413 before they are read. 10 MiB. */
  body_limit_bytes: Type.Integer({ default: 10 * 1024 * 1024, minimum: 1024, maximum: 1024 * 1024 * 1024 }),
  model: Type.Object({
    /** GGUF file to serve. Unset: the built-in demo model (random weights), generated on first start. */
    path: Type.Optional(Type.String({ minLength: 1, flag: "model", short: "m", description: "GGUF model file to serve" })),
    /** The id clients send as `model`. Defaults to the file name without `.gguf`. */
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256, flag: "model-name", description: "model id clients send (default: the file name)" })),
    /** CPU threads for llama.cpp. Defaults to the physical cores, and is never more than the cores. */
    threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, flag: "threads", short: "t", description: "CPU threads for llama.cpp (default: physical cores)" })),
    gpu: Type.Union([Type.Literal("auto"), Type.Literal("cpu"), Type.Literal("cuda"), Type.Literal("vulkan")], { default: "auto", flag: "gpu", description: "auto, cpu, cuda or vulkan" }),
  }, { ...Strict, default: {} }),
  inference: Type.Object({
    /** Tokens of context each slot gets (prompt plus completion); capped at what the model was trained on. */
    context_length: Type.Integer({ default: 4096, minimum: 16, maximum: 1 << 20, flag: "ctx-size", description: "context tokens per slot" }),
    /** Instead of context_length: tokens of context for all slots together, split evenly between them. */
    context_total: Type.Optional(Type.Integer({ minimum: 16, maximum: 1 << 24, flag: "ctx-total", description: "context tokens for all slots together, split evenly (instead of --ctx-size)" })),
    /** Completion length when a request sets none. Unset: until an end token or the end of the context. */
    max_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 20 })),
    /** Sampling temperature when a request sets none (OpenAI's default is 1). */
    temperature: Type.Number({ default: 1, minimum: 0, maximum: 2 }),
    /**
     * top_k when a request sets none, as llama-server and Ollama do (40). Sampling from the whole
     * vocabulary sorts every candidate: with a 128k vocabulary that costs about 10 ms per token on
     * a CPU, more than a decode step. 0 samples from the whole vocabulary.
     */
    top_k: Type.Integer({ default: 40, minimum: 0, maximum: 1 << 20 }),
  }, { ...Strict, default: {} }),
  batching: Type.Object({
    /** Requests decoded together (slots of one llama.cpp context). */
    max_batch_size: Type.Integer({ default: 32, minimum: 1, maximum: 256, flag: "slots", description: "requests decoded together" }),
    /** Requests that may wait for a busy slot; more get 429 with Retry-After at once. */
    max_queue: Type.Integer({ default: 256, minimum: 0, maximum: 1 << 20, flag: "max-queue", description: "requests that may wait for a slot before 429" }),
    /**
     * The seeds' batching window. Continuous batching needs none (a request joins the running batch
     * at the next step), so it is accepted and has no effect.
     */
    max_wait_time_ms: Type.Integer({ default: 10, minimum: 0, maximum: 60_000 }),
    /** Per request, from arrival: queue wait counts. 5 minutes. */
    timeout_ms: Type.Integer({ default: 300_000, minimum: 1, maximum: 24 * 3_600_000, flag: "timeout-ms", description: "per-request timeout, queue wait included" }),
    /** Tokens evaluated per step (llama.cpp's batch size): one per decoding slot, the rest for prompt chunks. */
    step_tokens: Type.Integer({ default: 512, minimum: 1, maximum: 1 << 16 }),
    /** A shared prompt prefix this long (tokens) picks its slot even if that leaves a gap among busy slots. */
    prefix_reuse_min_tokens: Type.Integer({ default: 256, minimum: 1, maximum: 1 << 20 }),
  }, { ...Strict, default: {} }),
}, Strict);

export type Config = Static<typeof ConfigSchema>;
