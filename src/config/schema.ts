import { Type, type Static } from "typebox";

const Strict = { additionalProperties: false } as const;

/** Ollama's keep_alive: a duration ("30s", "5m", "1h"), seconds, 0 (unload at once) or negative (never). */
export const KeepAlive = Type.Union([Type.String({ pattern: "^-?\\d+(\\.\\d+)?(ms|s|m|h)?$", maxLength: 32 }), Type.Number({ minimum: -1e9, maximum: 1e9 })]);

/** Sampling defaults a model's requests get when they set none. */
const ModelDefaults = Type.Object({
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
  top_k: Type.Optional(Type.Integer({ minimum: 0, maximum: 1 << 20 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  min_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 20 })),
}, Strict);

/** An OpenAI-compatible server that serves a model for Hearth (vLLM, llama-server, another Hearth, ...). */
export const UpstreamConfig = Type.Object({
  /** Its base URL, up to and including /v1: http://10.0.0.5:8000/v1. */
  url: Type.String({ minLength: 1, maxLength: 2048, pattern: "^https?://" }),
  /** Sent as `Authorization: Bearer`; never logged. */
  api_key: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  /** The model name it knows; default: the model's id. */
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  /** Until the response starts; a stream then runs as long as it keeps sending. */
  timeout_ms: Type.Integer({ default: 30_000, minimum: 1, maximum: 3_600_000 }),
}, Strict);

/** One model of the `models:` list. Unset fields take the server-wide settings. */
export const ModelConfig = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 256, pattern: "^[^/\\\\\\x00-\\x1f]+$" }),
  /**
   * A GGUF file; relative paths are relative to the models folder. With `upstreams`, optional: then
   * only its tokenizer is loaded (to count tokens an upstream does not report).
   */
  path: Type.Optional(Type.String({ minLength: 1 })),
  /** Serve this model through these servers instead of a local runner: least busy healthy one first. */
  upstreams: Type.Optional(Type.Array(UpstreamConfig, { minItems: 1, maxItems: 64 })),
  /** `prefix`: requests sharing a conversation's start go to the same upstream, so its prompt cache works. */
  affinity: Type.Union([Type.Literal("none"), Type.Literal("prefix")], { default: "none" }),
  aliases: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { default: [], maxItems: 64 }),
  context_length: Type.Optional(Type.Integer({ minimum: 16, maximum: 1 << 20 })),
  slots: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
  threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  /** Loaded at start and never unloaded. */
  pinned: Type.Boolean({ default: false }),
  keep_alive: Type.Optional(KeepAlive),
  defaults: Type.Optional(ModelDefaults),
  /**
   * How chat prompts are rendered: `auto` (the file's template; the family's own wrapper where the
   * family reasons), `jinja` (the template as written), or a node-llama-cpp wrapper type (`qwen`,
   * `harmony`, `llama3.1`, `gemma`, `mistral`, `deepSeek`, `chatML`, ...).
   */
  chat_wrapper: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** A Jinja template file used instead of the one the GGUF carries (relative: to the models folder). */
  chat_template: Type.Optional(Type.String({ minLength: 1 })),
  /** Defaults for the template's variables (`enable_thinking: false`); a request's own win. */
  chat_template_kwargs: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.Unknown())),
}, Strict);

/**
 * Every setting, with its default. A setting with a `flag` is also a `hearth serve --flag` and a
 * `HEARTH_FLAG` environment variable (see options.ts): its names are written here and nowhere else. Keys under `inference` and `batching` keep the meaning they have
 * in the seeds' `max-serve-config.yaml`. Units are in the names.
 */
export const ConfigSchema = Type.Object({
  host: Type.String({ default: "127.0.0.1", minLength: 1, flag: "host", description: "address to listen on" }),
  port: Type.Integer({ default: 8000, minimum: 0, maximum: 65535, flag: "port", short: "p", description: "port to listen on" }),
  /**
   * Ollama's API (/api/*, served on `port` too) on a port of its own, so that tools configured for
   * Ollama (http://localhost:11434) work unchanged: the same app, keys, limits and usage log, and
   * GET / answers "Ollama is running" there. Off unless a port is set.
   */
  ollama: Type.Object({
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, flag: "ollama-port", description: "also listen on this port for Ollama clients (11434); off by default" })),
    /** Default: `host`. */
    host: Type.Optional(Type.String({ minLength: 1, flag: "ollama-host", description: "address the Ollama port listens on (default: --host)" })),
  }, { ...Strict, default: {} }),
  /** HTTPS instead of HTTP: a PEM certificate (chain) and its private key. Both or neither. */
  tls: Type.Object({
    cert: Type.Optional(Type.String({ minLength: 1, flag: "tls-cert", description: "PEM certificate file: serve HTTPS (with --tls-key)" })),
    key: Type.Optional(Type.String({ minLength: 1, flag: "tls-key", description: "PEM private key file of --tls-cert" })),
  }, { ...Strict, default: {} }),
  log_level: Type.Union([Type.Literal("fatal"), Type.Literal("error"), Type.Literal("warn"), Type.Literal("info"), Type.Literal("debug"), Type.Literal("trace"), Type.Literal("silent")], { default: "info", flag: "log-level", description: "fatal, error, warn, info, debug, trace or silent" }),
  /** Largest request body accepted; larger ones get 413 before they are read. 10 MiB. */
  /**
   * On SIGTERM or SIGINT: /health turns 503 `draining` at once, no new connection is accepted, and
   * requests under way get this long to finish; then they are cancelled (their usage rows written).
   */
  shutdown_timeout_ms: Type.Integer({ default: 30_000, minimum: 0, maximum: 3_600_000, flag: "shutdown-timeout-ms", description: "how long requests under way may finish after SIGTERM" }),
  body_limit_bytes: Type.Integer({ default: 10 * 1024 * 1024, minimum: 1024, maximum: 1024 * 1024 * 1024 }),
  /**
   * Connection limits, so that slow or idle clients cannot hold sockets (slowloris). A slow request
   * is answered 408 and closed. The connection idle timeout is off by default: a non-streaming
   * generation can be silent for minutes (batching.timeout_ms).
   */
  http: Type.Object({
    /** From a connection's first byte to the end of a request's headers. 30 seconds. */
    headers_timeout_ms: Type.Integer({ default: 30_000, minimum: 1, maximum: 3_600_000 }),
    /** To receive a whole request, body included (not to answer it). 60 seconds; 0: no limit. */
    request_timeout_ms: Type.Integer({ default: 60_000, minimum: 0, maximum: 3_600_000 }),
    /** An idle keep-alive connection is closed after this long. 72 seconds (above common balancers' 60 s). */
    keep_alive_timeout_ms: Type.Integer({ default: 72_000, minimum: 1, maximum: 3_600_000 }),
    /** A socket with no traffic either way is closed after this long. 0: never. */
    connection_timeout_ms: Type.Integer({ default: 0, minimum: 0, maximum: 24 * 3_600_000 }),
    /** A stream's output waiting for a client that does not read; past it the stream is cut and its generation cancelled. 1 MiB. */
    stream_buffer_bytes: Type.Integer({ default: 1024 * 1024, minimum: 16 * 1024, maximum: 1024 * 1024 * 1024 }),
  }, { ...Strict, default: {} }),
  /** Hearth's own files. Default: ~/.hearth (also HEARTH_DATA_DIR). */
  data_dir: Type.Optional(Type.String({ minLength: 1, flag: "data-dir", description: "Hearth's data folder (default ~/.hearth)" })),
  /** Every *.gguf here is a model, found at start and when the folder changes. Default: <data_dir>/models. */
  models_dir: Type.Optional(Type.String({ minLength: 1, flag: "models-dir", description: "folder of GGUF models, watched for changes (default <data dir>/models)" })),
  /** Memory all loaded models may take together: bytes ("12GiB", "800MB", 1e9) or a share of RAM ("75%"). */
  memory_budget: Type.Optional(Type.Union([
    Type.String({ pattern: "^\\s*\\d+(\\.\\d+)?\\s*(%|[kKmMgGtT]i?[bB]?|[bB])?\\s*$", maxLength: 32 }),
    Type.Integer({ minimum: 1 }),
  ], { flag: "memory-budget", description: "memory for all loaded models: bytes (12GiB) or a share of RAM (75%); default 75% of RAM" })),
  /** How long an idle model stays loaded (Ollama's keep_alive); a request's keep_alive overrides it. */
  keep_alive: Type.Union([KeepAlive], { default: "5m", flag: "keep-alive", description: "how long an idle model stays loaded: 30s, 5m, 1h, 0 (unload at once) or -1 (never)" }),
  models: Type.Array(ModelConfig, { default: [], maxItems: 1024 }),
  /** `required`: every /v1/* route and /metrics need `Authorization: Bearer <key>`. */
  auth: Type.Union([Type.Literal("none"), Type.Literal("required")], { default: "none", flag: "auth", description: "none, or required: every /v1/* route and /metrics need an API key" }),
  /** Guards /v1/admin/*, model load, unload and pull; also a key for everything else. Prefer the environment to a file. */
  admin_key: Type.Optional(Type.String({ minLength: 16, maxLength: 512, flag: "admin-key", description: "the admin key (at least 16 characters)" })),
  /**
   * Host names the server answers to besides loopback ones ("hearth.lan", ".example.com" with its
   * subdomains); a list, or one string separated by commas. Listening on a loopback address, other
   * Host headers get 403 (DNS rebinding); listening on all addresses, any Host unless this is set.
   */
  allowed_hosts: Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 256 }), Type.String({ maxLength: 16384 })], { default: [], flag: "allowed-hosts", description: "host names answered besides loopback ones, comma-separated (DNS rebinding guard)" }),
  /** Web origins whose pages may call the API, with CORS headers ("https://app.example.com"; "*": any, without credentials); a list or a comma-separated string. */
  cors_origins: Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { maxItems: 256 }), Type.String({ maxLength: 16384 })], { default: [], flag: "cors-origins", description: "web origins allowed to call the API from a browser, comma-separated, or *" }),
  /** The web app's build folder (index.html and assets/). Default: web/dist in the package. */
  web_dir: Type.Optional(Type.String({ minLength: 1, flag: "web-dir", description: "the web app's build folder (default: web/dist in the package)" })),
  /** PostgreSQL for keys and the usage log; unset: embedded PGlite in the data folder. */
  database_url: Type.Optional(Type.String({ minLength: 1, flag: "database-url", env: "DATABASE_URL", description: "PostgreSQL for keys and usage (default: embedded PGlite in the data folder)" })),
  /** The PostgreSQL schema Hearth's tables live in. */
  database_schema: Type.String({ default: "public", pattern: "^[a-z_][a-z0-9_]{0,62}$" }),
  /** Redis to share rate limits and the response cache between Hearth processes; unset: in memory. */
  redis_url: Type.Optional(Type.String({ minLength: 1, flag: "redis-url", env: "REDIS_URL", description: "Redis for shared rate limits and the response cache (default: in memory)" })),
  /** A prefix for every Redis key, so several deployments can share one Redis. */
  redis_prefix: Type.String({ default: "hearth:", maxLength: 64 }),
  pull: Type.Object({
    /**
     * POST /v1/models/pull from hosts that are or resolve to loopback, private (10/8, 172.16/12,
     * 192.168/16, fc00::/7), carrier-grade NAT, link-local or other non-public addresses, checked
     * on every redirect. Off, so that a client cannot make the server fetch from its own network;
     * on for a local mirror (HF_ENDPOINT), MinIO or another store on the LAN.
     */
    allow_private_addresses: Type.Boolean({ default: false, flag: "allow-private-addresses", description: "let pulls reach loopback, private and link-local addresses (a local mirror or MinIO)" }),
  }, { ...Strict, default: {} }),
  usage: Type.Object({
    /** One row per request in the usage log (never the prompt or completion text). */
    enabled: Type.Boolean({ default: true }),
    /** Rows kept in memory while the database is unreachable; past it, new rows are dropped and counted. */
    buffer_rows: Type.Integer({ default: 100_000, minimum: 100, maximum: 10_000_000 }),
  }, { ...Strict, default: {} }),
  cache: Type.Object({
    enabled: Type.Boolean({ default: true }),
    /** Also cache sampled answers (temperature > 0 without a seed), which are normally not reproducible. */
    sampled: Type.Boolean({ default: false }),
    /** The in-memory cache's bound; Redis bounds itself. */
    max_bytes: Type.Integer({ default: 64 * 1024 * 1024, minimum: 0, maximum: 2 ** 40 }),
    ttl_seconds: Type.Integer({ default: 3600, minimum: 1, maximum: 30 * 86400 }),
    /**
     * The prompt cache in host memory (like llama-server's --cache-ram, for every slot): what a slot
     * held before another prompt took it is kept, within this many bytes per model (least recently
     * used out), and a prompt continuing it (a chat's next turn) is restored instead of evaluated.
     * Kept in /dev/shm where it has room; 0 turns it off.
     */
    prompt_ram_bytes: Type.Integer({ default: 1024 * 1024 * 1024, minimum: 0, maximum: 2 ** 44, flag: "cache-ram", description: "bytes of prompt states kept in host memory per model (0: off)" }),
    /**
     * The prompt cache's bound in entries per model, least recently used out: a small model's states
     * are small, so bytes alone once let a soak of varied prompts keep tens of thousands of them.
     */
    prompt_entries: Type.Integer({ default: 1024, minimum: 0, maximum: 1 << 20, flag: "cache-entries", description: "prompt states kept in host memory per model, at most (0: off)" }),
  }, { ...Strict, default: {} }),
  model: Type.Object({
    /** GGUF file to serve. Unset: the built-in demo model (random weights), generated on first start. */
    path: Type.Optional(Type.String({ minLength: 1, flag: "model", short: "m", description: "GGUF model file to serve" })),
    /** The id clients send as `model`. Defaults to the file name without `.gguf`. */
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256, flag: "model-name", description: "model id clients send (default: the file name)" })),
    /** Instead of a file: serve the model through these OpenAI-compatible servers (`--upstream URL`, repeatable). */
    upstreams: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 2048, pattern: "^https?://" }), { maxItems: 64, flag: "upstream", description: "OpenAI-compatible server (base URL with /v1) to serve --model-name through; repeat for several" })),
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
    /** The most choices (`n`) one request may ask for; each is generated as its own request. */
    max_n: Type.Integer({ default: 8, minimum: 1, maximum: 128 }),
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
    /**
     * Prompt tokens another slot must hold (or be evaluating) beyond the chosen slot's own for them
     * to be copied from it instead of evaluated again; 0 turns copying off. A copy costs about as
     * much as evaluating 1 token per 100 copied (see docs/benchmarks.md).
     */
    prefix_copy_min_tokens: Type.Integer({ default: 32, minimum: 0, maximum: 1 << 20 }),
  }, { ...Strict, default: {} }),
}, Strict);

export type Config = Static<typeof ConfigSchema>;
