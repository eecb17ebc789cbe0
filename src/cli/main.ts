import { readFileSync } from "node:fs";
import { Command } from "commander";
import { envLayer, readConfigFile, resolveConfig, setPath, type ConfigLayer } from "../config/loadConfig.ts";
import { registerBench } from "./bench.ts";
import { registerGenModel } from "./genModel.ts";
import { registerMonitor } from "./monitor.ts";
import { numberFlag } from "./numberFlag.ts";
import { serve } from "./serve.ts";

interface ServeFlags {
  config?: string;
  model?: string;
  modelName?: string;
  host?: string;
  port?: number;
  threads?: number;
  ctxSize?: number;
  ctxTotal?: number;
  slots?: number;
  maxQueue?: number;
  timeoutMs?: number;
  gpu?: string;
  logLevel?: string;
}

/** Flags win over the environment, which wins over the YAML file. */
function flagLayer(f: ServeFlags): ConfigLayer {
  const layer: ConfigLayer = {};
  const map: [unknown, string[]][] = [
    [f.model, ["model", "path"]], [f.modelName, ["model", "name"]], [f.host, ["host"]], [f.port, ["port"]],
    [f.threads, ["model", "threads"]], [f.ctxSize, ["inference", "context_length"]], [f.ctxTotal, ["inference", "context_total"]],
    [f.slots, ["batching", "max_batch_size"]], [f.maxQueue, ["batching", "max_queue"]], [f.timeoutMs, ["batching", "timeout_ms"]],
    [f.gpu, ["model", "gpu"]], [f.logLevel, ["log_level"]],
  ];
  for (const [value, path] of map) if (value !== undefined) setPath(layer, path, value);
  return layer;
}

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
const program = new Command("hearth")
  .description("a self-hosted, OpenAI-compatible LLM server")
  .version(`hearth ${version} (node ${process.version})`, "-v, --version")
  .showHelpAfterError();

program
  .command("serve", { isDefault: true })
  .description("serve a GGUF model over the OpenAI API (the built-in demo model when --model is not given)")
  .option("-c, --config <file>", "YAML config file (keys as in the seeds' max-serve-config.yaml)")
  .option("-m, --model <file>", "GGUF model file to serve")
  .option("--model-name <id>", "model id clients send (default: the file name)")
  .option("--host <host>", "address to listen on (default 127.0.0.1)")
  .option("-p, --port <port>", "port to listen on (default 8000)", numberFlag("--port"))
  .option("-t, --threads <n>", "CPU threads for llama.cpp (default: physical cores)", numberFlag("--threads"))
  .option("--ctx-size <n>", "context tokens per slot (default 4096)", numberFlag("--ctx-size"))
  .option("--ctx-total <n>", "context tokens for all slots together, split evenly (instead of --ctx-size)", numberFlag("--ctx-total"))
  .option("--slots <n>", "requests decoded together (default 32)", numberFlag("--slots"))
  .option("--max-queue <n>", "requests that may wait for a slot before 429 (default 256)", numberFlag("--max-queue"))
  .option("--timeout-ms <n>", "per-request timeout, queue wait included (default 300000)", numberFlag("--timeout-ms"))
  .option("--gpu <kind>", "auto, cpu, cuda or vulkan (default auto)")
  .option("--log-level <level>", "fatal, error, warn, info, debug, trace or silent")
  .action(async (flags: ServeFlags) => {
    const file = flags.config ? await readConfigFile(flags.config) : {};
    const config = resolveConfig(file, envLayer(process.env), flagLayer(flags));
    const server = await serve(config);
    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) process.exit(1); // a second signal: stop waiting
      closing = true;
      console.log(`${signal}: shutting down`);
      server.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
  });

registerGenModel(program);
registerBench(program);
registerMonitor(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`hearth: ${message}`);
  process.exit(1);
});
