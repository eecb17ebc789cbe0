import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { totalmem } from "node:os";
import { basename, isAbsolute, join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp, serverTimeouts } from "../api/app.ts";
import { openListener, type Listener } from "../api/listeners.ts";
import { OLLAMA_LISTENER } from "../api/routes/ollama/routes.ts";
import { openServices } from "./services.ts";
import { cacheDir, dataDir } from "../config/dataDir.ts";
import { ConfigError } from "../config/loadConfig.ts";
import { Tokenizer } from "../serving/upstream/Tokenizer.ts";
import { UpstreamModel } from "../serving/upstream/UpstreamModel.ts";
import type { Static } from "typebox";
import type { Config, ModelConfig } from "../config/schema.ts";
import { DEMO_MODEL_ID, ensureDemoModel } from "../models/demoModel.ts";
import { ModelRouter } from "../serving/ModelRouter.ts";
import type { ServedModel } from "../serving/ServedModel.ts";
import { EstimateCache } from "../models/budget/EstimateCache.ts";
import { ModelRegistry, type ModelDefaults, type ModelEntry, type TemplateSettings } from "../models/registry/ModelRegistry.ts";
import { parseBytes, parseDurationSeconds } from "../util/units.ts";

export interface Hearth {
  app: FastifyInstance;
  router: ModelRouter;
  registry: ModelRegistry;
  /** The model given with --model (or the demo model), when there is one. */
  modelId: string | undefined;
  /** Starts listening (and on the Ollama port, when configured); resolves with the base URL. */
  listen(): Promise<string>;
  /** The Ollama port's base URL, once listening there. */
  readonly ollamaUrl: string | undefined;
  /** Finds the models folder's models and loads the pinned models. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** What the memory budget defaults to: a share of the machine's memory (or of the container's limit). */
const DEFAULT_BUDGET = "75%";

/** The machine's memory, or the container's limit when that is lower. */
export function machineMemory(): number {
  const limit = process.constrainedMemory();
  return limit > 0 && limit < totalmem() ? limit : totalmem();
}

export interface HearthOptions {
  /** Start loading the pinned models at once, before the database opens (what `hearth serve` does); else `start()` does. */
  startModels?: boolean;
  /** Models served beside the config's (tests of the HTTP edge serve a fake one); with them, no demo model. */
  served?: readonly ServedModel[];
}

/** Wires config, registry, router and HTTP app together. Nothing starts unless asked. */
export async function createHearth(config: Readonly<Config>, out: (line: string) => void = console.log, opts: HearthOptions = {}): Promise<Hearth> {
  const https = await readTls(config.tls);
  const logger = pino({ level: config.log_level, base: undefined });
  const modelsDir = resolve(config.models_dir ?? join(config.data_dir ?? dataDir(), "models"));
  const inFolder = (path: string) => (isAbsolute(path) ? path : resolve(modelsDir, path));
  const served: ServedModel[] = [...opts.served ?? []];
  const upstreams = config.models.filter((m) => m.upstreams).map((m) => new UpstreamModel({
    id: m.id,
    aliases: m.aliases,
    affinity: m.affinity,
    defaults: modelDefaults(m),
    targets: m.upstreams!.map((u) => ({ url: u.url.replace(/\/+$/, ""), model: u.model ?? m.id, timeoutMs: u.timeout_ms, ...(u.api_key ? { apiKey: u.api_key } : {}) })),
    ...(m.path ? { tokenizer: new Tokenizer(inFolder(m.path)) } : {}),
    log: (level, message) => logger[level]({ component: "upstream" }, message),
  }));
  // `hearth serve --upstream URL --model-name NAME`: one model, its servers given on the command line.
  if (config.model.upstreams?.length) {
    const id = config.model.name ?? "default";
    upstreams.push(new UpstreamModel({
      id, aliases: [], affinity: "none",
      targets: config.model.upstreams.map((url) => ({ url: url.replace(/\/+$/, ""), model: id, timeoutMs: 30_000 })),
      ...(config.model.path ? { tokenizer: new Tokenizer(resolve(config.model.path)) } : {}),
      log: (level, message) => logger[level]({ component: "upstream" }, message),
    }));
  }
  const declared = config.models.filter((m) => !m.upstreams).map((m): ModelEntry => {
    if (!m.path) throw new ConfigError(`models: '${m.id}' needs a 'path' or 'upstreams'`);
    return {
      id: m.id,
      path: inFolder(m.path),
      aliases: m.aliases,
      source: "config",
      settings: {
        pinned: m.pinned,
        ...(m.context_length !== undefined ? { contextSize: m.context_length } : {}),
        ...(m.slots !== undefined ? { slots: m.slots } : {}),
        ...(m.threads !== undefined ? { threads: m.threads } : {}),
        ...(m.keep_alive !== undefined ? { keepAliveSeconds: parseDurationSeconds(m.keep_alive) } : {}),
        defaults: modelDefaults(m),
        ...templateSettings(m, inFolder),
      },
      created: Math.floor(Date.now() / 1000),
    };
  });

  // --model (or `model:`) is served from the start and never unloaded, as a single-model server is.
  let modelId: string | undefined;
  // With --upstream, --model only lends its tokenizer to the upstream model.
  let modelPath = config.model.upstreams?.length ? undefined : config.model.path;
  if (!modelPath && config.models.length === 0 && upstreams.length === 0 && served.length === 0) {
    const demo = await ensureDemoModel();
    modelPath = demo.path;
    modelId = config.model.name ?? DEMO_MODEL_ID;
    out(`No --model given: serving the built-in demo model '${modelId}'${demo.generated ? " (generated now)" : ""}.`);
    out("Its weights are random, so its replies are noise: it is there to try the API, not to chat with.");
  }
  if (modelPath) {
    modelId ??= config.model.name ?? basename(modelPath).replace(/\.gguf$/i, "");
    declared.unshift({ id: modelId, path: resolve(modelPath), aliases: [], source: "config", settings: { pinned: true, defaults: {} }, created: Math.floor(Date.now() / 1000) });
  }

  const log = (level: "debug" | "info" | "warn" | "error", message: string) => logger[level]({ component: "models" }, message);
  const registry = new ModelRegistry({ declared, modelsDir, log: (message) => log("warn", message) });
  const router = new ModelRouter({
    registry,
    budgetBytes: parseBytes(config.memory_budget ?? DEFAULT_BUDGET, machineMemory()),
    keepAliveSeconds: parseDurationSeconds(config.keep_alive),
    runner: {
      ...(config.model.threads != null ? { threads: config.model.threads } : {}),
      contextSize: config.inference.context_total != null
        ? Math.floor(config.inference.context_total / config.batching.max_batch_size)
        : config.inference.context_length,
      slots: config.batching.max_batch_size,
      maxQueue: config.batching.max_queue,
      timeoutMs: config.batching.timeout_ms,
      batchSize: config.batching.step_tokens,
      minPrefixReuse: config.batching.prefix_reuse_min_tokens,
      minPrefixCopy: config.batching.prefix_copy_min_tokens,
      promptCacheBytes: config.cache.prompt_ram_bytes,
      promptCacheEntries: config.cache.prompt_entries,
      gpu: config.model.gpu,
    },
    log,
    served: [...served, ...upstreams],
    estimates: new EstimateCache(join(cacheDir(), "estimates.json")),
  });
  // Loading starts before the database opens when asked (`hearth serve`): neither waits for the other.
  let starting: Promise<void> | null = null;
  const start = () => (starting ??= (async () => {
    await registry.start();
    await router.start();
  })());
  if (opts.startModels) void start();
  let services;
  try {
    services = await openServices(config, logger);
  } catch (err) {
    await router.close();
    throw err;
  }
  if (config.auth === "required" && !config.admin_key) {
    logger.warn("auth is required but no admin key is set (HEARTH_ADMIN_KEY or admin_key): key management, pulls and model loads are refused to every caller");
  }
  let draining = false;
  const ollamaHost = config.ollama.host ?? config.host;
  const timeouts = {
    headersMs: config.http.headers_timeout_ms, requestMs: config.http.request_timeout_ms,
    keepAliveMs: config.http.keep_alive_timeout_ms, connectionMs: config.http.connection_timeout_ms,
  };
  let ollama: Listener | undefined;
  const app = buildApp({
    router,
    logger,
    draining: () => draining,
    auth: { mode: config.auth, adminKey: config.admin_key },
    keys: services.keys,
    usage: { log: services.usage, report: services.report },
    limiter: services.limiter,
    cache: services.cache ? { store: services.cache, sampled: config.cache.sampled, ttlSeconds: config.cache.ttl_seconds } : undefined,
    bodyLimit: config.body_limit_bytes,
    pullAllowPrivateAddresses: config.pull.allow_private_addresses,
    timeouts,
    streamBufferBytes: config.http.stream_buffer_bytes,
    conversations: services.conversations,
    responses: services.responses,
    browser: {
      listenHost: config.host, allowedHosts: list(config.allowed_hosts), corsOrigins: list(config.cors_origins),
      ...(config.ollama.port !== undefined ? { listenerHosts: { [OLLAMA_LISTENER]: ollamaHost } } : {}),
    },
    ...(config.web_dir ? { webRoot: resolve(config.web_dir) } : {}),
    ...(https ? { https } : {}),
    defaults: {
      temperature: config.inference.temperature,
      topK: config.inference.top_k,
      maxN: config.inference.max_n,
      ...(config.inference.max_tokens != null ? { maxTokens: config.inference.max_tokens } : {}),
    },
  });
  return {
    app,
    router,
    registry,
    modelId,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      if (config.ollama.port !== undefined) {
        ollama = await openListener(app, {
          name: OLLAMA_LISTENER, host: ollamaHost, port: config.ollama.port, server: serverTimeouts(timeouts), connectionTimeoutMs: timeouts.connectionMs, ...(https ? { https } : {}),
        });
      }
      return address.replace("[::1]", "localhost");
    },
    get ollamaUrl() { return ollama?.url; },
    start,
    /**
     * Drains: /health says `draining`, no new connection is accepted (requests on open ones get
     * 503), requests under way finish within shutdown_timeout_ms and are cancelled after it; then
     * every request has reported its end, so the usage log's last rows are written before exit.
     */
    async close() {
      draining = true;
      ollama?.stop();
      const closed = app.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((resolve) => { timer = setTimeout(resolve, config.shutdown_timeout_ms); })]);
      clearTimeout(timer);
      await router.close(); // cancels what still runs; each request's final event still comes
      await closed;
      await ollama?.close();
      await services.close();
    },
  };
}

/** The certificate and key files of `tls` (--tls-cert, --tls-key), read before anything starts. */
async function readTls(tls: Config["tls"]): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!tls.cert && !tls.key) return undefined;
  if (!tls.cert || !tls.key) throw new ConfigError("HTTPS needs both tls.cert (--tls-cert) and tls.key (--tls-key)");
  const read = async (what: string, path: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new ConfigError(`cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return { cert: await read("certificate", tls.cert), key: await read("key", tls.key) };
}

/** A list setting given as a list, or as one comma-separated string (a flag, an environment variable). */
function list(value: string | readonly string[]): string[] {
  return (typeof value === "string" ? value.split(",") : [...value]).map((v) => v.trim()).filter(Boolean);
}

/** Starts the HTTP server at once; pinned models load in the background while /health says so. */
export async function serve(config: Readonly<Config>, out: (line: string) => void = console.log): Promise<Hearth> {
  const hearth = await createHearth(config, out, { startModels: true });
  const url = await hearth.listen();
  out(`Hearth listening on ${url}  (OpenAI base URL: ${url}/v1${hearth.modelId ? `, model '${hearth.modelId}'` : ""})`);
  // Each client wants its own base URL: Anthropic's SDK and Ollama's append their paths to the server's.
  out(`Also speaks OpenAI's Responses API, Anthropic's Messages API (base URL: ${url}) and Ollama's API (host: ${hearth.ollamaUrl ?? url})`);
  out(`Models folder: ${hearth.registry.modelsDir}`);
  if (!config.model.path && config.models.length === 0) out("Serve a real model with: hearth serve --model ./my-model.gguf");
  return hearth;
}

/** A `models:` entry's `defaults:`, in the engine's names. */
function modelDefaults(m: Static<typeof ModelConfig>): ModelDefaults {
  const d = m.defaults;
  return {
    ...(d?.temperature !== undefined ? { temperature: d.temperature } : {}),
    ...(d?.top_k !== undefined ? { topK: d.top_k } : {}),
    ...(d?.top_p !== undefined ? { topP: d.top_p } : {}),
    ...(d?.min_p !== undefined ? { minP: d.min_p } : {}),
    ...(d?.max_tokens !== undefined ? { maxTokens: d.max_tokens } : {}),
  };
}

/** A `models:` entry's chat template settings; a template file that cannot be read stops the start. */
function templateSettings(m: Static<typeof ModelConfig>, inFolder: (path: string) => string): { template?: TemplateSettings } {
  if (m.chat_wrapper === undefined && m.chat_template === undefined && m.chat_template_kwargs === undefined) return {};
  const templateFile = m.chat_template !== undefined ? inFolder(m.chat_template) : undefined;
  if (templateFile !== undefined && !existsSync(templateFile)) throw new ConfigError(`models: '${m.id}': chat_template ${templateFile} does not exist`);
  return {
    template: {
      ...(m.chat_wrapper !== undefined ? { wrapper: m.chat_wrapper } : {}),
      ...(templateFile !== undefined ? { templateFile } : {}),
      ...(m.chat_template_kwargs !== undefined ? { kwargs: m.chat_template_kwargs } : {}),
    },
  };
}
