import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { defaultModelsDir } from "../config/dataDir.ts";
import { envLayer } from "../config/loadConfig.ts";
import { pullModel, type PullProgress } from "../models/pull/pullModel.ts";

interface PullFlags {
  name?: string;
  modelsDir?: string;
  hfEndpoint?: string;
  allowPrivateAddresses?: boolean;
}

/** Where the command writes; a test passes its own streams and environment. */
export interface PullIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

const LINE_INTERVAL_MS = 5000;

export function registerPull(program: Command, io: PullIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): void {
  program
    .command("pull")
    .description("download a GGUF model into the models folder (resumes an interrupted pull)")
    .argument("<source>", "https:// or http:// URL, hf:owner/repo[:revision]/file.gguf, s3://bucket/key, or a local path")
    .option("--name <file>", "file name in the models folder (default: the source's file name)")
    .option("--models-dir <dir>", "models folder (default: $HEARTH_DATA_DIR/models, HEARTH_DATA_DIR defaulting to ~/.hearth)")
    .option("--hf-endpoint <url>", "Hugging Face hub or mirror (default: $HF_ENDPOINT, else https://huggingface.co)")
    .option("--allow-private-addresses", "pull from loopback, private or link-local addresses: a local mirror or MinIO (HEARTH_ALLOW_PRIVATE_ADDRESSES=true)")
    .action(async (source: string, flags: PullFlags) => {
      const controller = new AbortController();
      // The partial file stays; the same command resumes it.
      const onSigint = () => controller.abort(new Error("interrupted; run the same command again to resume"));
      process.once("SIGINT", onSigint);
      const display = io.stderr.isTTY ? new BarDisplay(io.stderr) : new LineDisplay(io.stderr);
      try {
        const result = await pullModel(source, {
          modelsDir: flags.modelsDir ?? defaultModelsDir(io.env),
          name: flags.name,
          hfEndpoint: flags.hfEndpoint,
          allowPrivateAddresses: flags.allowPrivateAddresses ?? allowedByEnv(io.env),
          env: io.env,
          signal: controller.signal,
          onProgress: (p) => display.update(p),
        });
        display.stop();
        const check = { sha256: "matches the source's", size: "size matches the source's; the source declares no sha256", none: "the source declares neither size nor sha256" }[result.verified];
        const lines = [
          result.alreadyPresent ? `already present: ${result.path}` : `pulled ${result.path}`,
          `model id ${result.id}`,
          `size ${result.sizeBytes} bytes (${formatBytes(result.sizeBytes)})`,
          `sha256 ${result.sha256} (${check})`,
          ...(result.resumedFromBytes > 0 ? [`resumed from ${result.resumedFromBytes} bytes`] : []),
        ];
        io.stdout.write(`${lines.join("\n")}\n`);
      } finally {
        display.stop();
        process.off("SIGINT", onSigint);
      }
    });
}

/** The serve setting's variable (HEARTH_ALLOW_PRIVATE_ADDRESSES), so one export covers both commands. */
function allowedByEnv(env: NodeJS.ProcessEnv): boolean {
  const pull = envLayer(env).pull as { allow_private_addresses?: unknown } | undefined;
  return pull?.allow_private_addresses === true;
}

/** A terminal gets a live bar with speed and ETA. */
class BarDisplay {
  readonly #stream: NodeJS.WritableStream;
  #bar: SingleBar | null = null;

  constructor(stream: NodeJS.WritableStream) {
    this.#stream = stream;
  }

  update(p: PullProgress): void {
    if (p.phase !== "downloading" || p.totalBytes === null) return;
    const payload = { speed: `${formatBytes(p.bytesPerSecond)}/s`, left: formatEta(p.etaSeconds), done: formatBytes(p.receivedBytes), size: formatBytes(p.totalBytes) };
    if (!this.#bar) {
      this.#bar = new SingleBar({ stream: this.#stream, format: `${p.id} {bar} {percentage}% | {done}/{size} | {speed} | ETA {left}`, hideCursor: true, fps: 5 });
      this.#bar.start(p.totalBytes, p.receivedBytes, payload);
    }
    this.#bar.update(p.receivedBytes, payload);
  }

  stop(): void {
    this.#bar?.stop();
    this.#bar = null;
  }
}

/** A log or a pipe gets a plain line every few seconds instead of a redrawn bar. */
class LineDisplay {
  readonly #stream: NodeJS.WritableStream;
  #last = -Infinity;
  #phase: PullProgress["phase"] | null = null;

  constructor(stream: NodeJS.WritableStream) {
    this.#stream = stream;
  }

  update(p: PullProgress): void {
    const now = performance.now();
    const phaseChanged = p.phase !== this.#phase;
    this.#phase = p.phase;
    if (p.phase === "done") return;
    if (p.phase === "downloading" && !phaseChanged && now - this.#last < LINE_INTERVAL_MS) return;
    this.#last = now;
    if (p.phase !== "downloading") return void this.#stream.write(`${p.phase} ${p.source}\n`);
    const total = p.totalBytes === null ? "" : ` / ${formatBytes(p.totalBytes)} (${Math.floor((100 * p.receivedBytes) / Math.max(1, p.totalBytes))}%)`;
    this.#stream.write(`downloading ${p.id}: ${formatBytes(p.receivedBytes)}${total}, ${formatBytes(p.bytesPerSecond)}/s, ETA ${formatEta(p.etaSeconds)}\n`);
  }

  stop(): void {}
}

export function formatBytes(n: number): string {
  if (n < 1e3) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
