import { basename } from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp } from "../api/app.ts";
import type { Config } from "../config/schema.ts";
import { RunnerEngine } from "../engine/runner/RunnerEngine.ts";
import { ModelRouter } from "../models/ModelRouter.ts";
import { DEMO_MODEL_ID, ensureDemoModel } from "../models/demoModel.ts";

export interface Hearth {
  app: FastifyInstance;
  router: ModelRouter;
  modelId: string;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** Wires config, engine and HTTP app together without starting anything. */
export async function createHearth(config: Readonly<Config>, out: (line: string) => void = console.log): Promise<Hearth> {
  const logger = pino({ level: config.log_level, base: undefined });
  let modelPath = config.model.path;
  let modelId = config.model.name;
  if (!modelPath) {
    const demo = await ensureDemoModel();
    modelPath = demo.path;
    modelId ??= DEMO_MODEL_ID;
    out(`No --model given: serving the built-in demo model '${modelId}'${demo.generated ? " (generated now)" : ""}.`);
    out("Its weights are random, so its replies are noise: it is there to try the API, not to chat with.");
  }
  modelId ??= basename(modelPath).replace(/\.gguf$/i, "");

  const engine = new RunnerEngine({
    modelPath,
    modelId,
    ...(config.model.threads != null ? { threads: config.model.threads } : {}),
    contextSize: config.inference.context_total != null
      ? Math.floor(config.inference.context_total / config.batching.max_batch_size)
      : config.inference.context_length,
    slots: config.batching.max_batch_size,
    maxQueue: config.batching.max_queue,
    timeoutMs: config.batching.timeout_ms,
    batchSize: config.batching.step_tokens,
    minPrefixReuse: config.batching.prefix_reuse_min_tokens,
    gpu: config.model.gpu,
    log: (level, message) => logger[level]({ component: "engine" }, message),
  });
  const router = new ModelRouter(new Map([[modelId, engine]]));
  const app = buildApp({
    engine: router,
    logger,
    bodyLimit: config.body_limit_bytes,
    defaults: {
      temperature: config.inference.temperature,
      topK: config.inference.top_k,
      ...(config.inference.max_tokens != null ? { maxTokens: config.inference.max_tokens } : {}),
    },
  });
  return {
    app,
    router,
    modelId,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      return address.replace("[::1]", "localhost");
    },
    async close() {
      await app.close();
      await router.close();
    },
  };
}

/** Starts the HTTP server at once; the model loads in the background while /health says so. */
export async function serve(config: Readonly<Config>, out: (line: string) => void = console.log): Promise<Hearth> {
  const hearth = await createHearth(config, out);
  const url = await hearth.listen();
  out(`Hearth listening on ${url}  (OpenAI base URL: ${url}/v1, model '${hearth.modelId}')`);
  if (!config.model.path) out("Serve a real model with: hearth serve --model ./my-model.gguf");
  void hearth.router.load(hearth.modelId);
  return hearth;
}
