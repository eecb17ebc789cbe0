import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { testModel } from "./models.ts";

const root = new URL("../..", import.meta.url).pathname;

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  runnerPid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
}

/**
 * `hearth serve` as a process of its own on the tiny model, with its data folder in `data` and
 * `config` laid over the defaults (a config file in `configDir`, default `data`): for tests that
 * kill it, fill its disk or read its log.
 */
export async function serveProcess(data: string, config: Record<string, unknown> = {}, configDir = data): Promise<ServerProcess> {
  const file = join(configDir, "hearth.yaml");
  writeFileSync(file, JSON.stringify({
    port: 0, data_dir: data, log_level: "info", cache: { enabled: false },
    model: { path: await testModel("tiny"), name: "tiny", threads: 1, gpu: "cpu" },
    inference: { context_length: 1024 }, batching: { max_batch_size: 4 },
    ...config,
  }));
  const child = spawn(process.execPath, [join(root, "bin/hearth.js"), "serve", "--config", file], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
  const seen = (pattern: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(out);
      if (m) { child.stdout!.off("data", check); child.off("exit", onExit); resolve(m); }
    };
    const onExit = (code: number | null) => reject(new Error(`hearth exited with ${code}: ${out}`));
    child.stdout!.on("data", check);
    child.once("exit", onExit);
    check();
  });
  const url = (await seen(/listening on (http:\/\/\S+)/))[1]!;
  const runnerPid = Number((await seen(/ready in runner (\d+)/))[1]);
  return { child, url, runnerPid, output: () => out };
}
