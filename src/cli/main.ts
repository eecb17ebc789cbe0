import { readFileSync } from "node:fs";
import { Command } from "commander";
import { loadDotEnv } from "../config/dotenv.ts";
import { envLayer, flagLayer, readConfigFile, resolveConfig } from "../config/loadConfig.ts";
import { configOptions, parseOption } from "../config/options.ts";
import { registerBench } from "./bench.ts";
import { registerGenModel } from "./genModel.ts";
import { registerKeys } from "./keys.ts";
import { registerModels } from "./models.ts";
import { registerMonitor } from "./monitor.ts";
import { registerPull } from "./pull.ts";
import { prestartRunner } from "../engine/runner/prestart.ts";

// A .env file in the working directory, read before anything looks at the environment (the real
// environment wins): HEARTH_*, DATABASE_URL, AWS_* for `hearth pull`, HEARTH_ADMIN_KEY for `hearth keys`.
try {
  loadDotEnv();
} catch (err) {
  console.error(`hearth: ${(err as Error).message}`);
  process.exit(1);
}

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
const program = new Command("hearth")
  .description("a self-hosted, OpenAI-compatible LLM server")
  .version(`hearth ${version} (node ${process.version})`, "-v, --version")
  .showHelpAfterError();

const serveCommand = program
  .command("serve", { isDefault: true })
  .description("serve a GGUF model over the OpenAI API (the built-in demo model when --model is not given)")
  .option("-c, --config <file>", "YAML config file (keys as in the seeds' max-serve-config.yaml)")
  .action(async (flags: Record<string, unknown> & { config?: string }) => {
    const file = flags.config ? await readConfigFile(flags.config) : {};
    const config = resolveConfig(file, envLayer(process.env), flagLayer(flags));
    // A runner starts while the server imports itself (most of a second), for the model it loads first.
    const local = !config.model.upstreams?.length && (config.model.path !== undefined || config.models.length === 0 || config.models.some((m) => m.pinned && !m.upstreams));
    if (local) prestartRunner(config.model.gpu);
    const { serve } = await import("./serve.ts");
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

// Every setting with a flag in the config schema, named there once.
for (const o of configOptions) {
  const names = `${o.short ? `-${o.short}, ` : ""}--${o.flag}`;
  if (o.kind === "boolean") serveCommand.option(names, `${o.description} (${o.env}=true)`);
  else serveCommand.option(`${names} <${o.kind === "string" || o.kind === "list" ? "value" : "n"}>`, `${o.description} (${o.env})`, parseOption(o));
}

registerGenModel(program);
registerBench(program);
registerMonitor(program);
registerPull(program);
registerModels(program);
registerKeys(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`hearth: ${message}`);
  process.exit(1);
});
