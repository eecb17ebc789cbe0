import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { createHearth, type Hearth } from "../../src/cli/serve.ts";
import { resolveConfig, type ConfigLayer } from "../../src/config/loadConfig.ts";
import { FakeModel, type FakeModelOptions } from "./fakeModel.ts";
import { testModel } from "./models.ts";

export interface TestServer {
  url: string;
  client: OpenAI;
  hearth: Hearth;
  model: string;
  close(): Promise<void>;
}

export interface StartOptions {
  config?: ConfigLayer;
  /** False: the pinned model is not loaded (nor the models folder read) before the server answers. */
  load?: boolean;
  /** null: no --model, only the models the config's `models:` list or folder gives. */
  modelPath?: string | null;
  /**
   * Serve a deterministic fake model named `tiny` (test/helpers/fakeModel.ts) instead of a
   * generated one: for tests of the HTTP edge, where the thing under test is not inference.
   */
  fake?: boolean | FakeModelOptions;
}

/**
 * A real Hearth on an ephemeral port, serving a generated model with one llama.cpp thread (test
 * files run one at a time, so this never asks for more threads than there are cores), or a fake
 * model, with an empty models folder and a data folder (embedded database) of its own.
 */
export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const modelPath = opts.modelPath === null || opts.fake ? undefined : opts.modelPath ?? await testModel("tiny");
  // Its own folders, removed on close (an embedded database takes about 40 MB).
  const own = [await mkdtemp(join(tmpdir(), "hearth-data-")), await mkdtemp(join(tmpdir(), "hearth-models-"))];
  const config = resolveConfig(
    {
      port: 0, log_level: "silent", data_dir: own[0], models_dir: own[1],
      model: { ...(modelPath ? { path: modelPath, name: "tiny" } : {}), threads: 1, gpu: "cpu" },
      inference: { context_length: 1024 }, batching: { max_batch_size: 2 },
      // Off unless a test is about it: engine tests send the same greedy request twice on purpose.
      cache: { enabled: false },
    },
    opts.config ?? {},
  );
  const served = opts.fake ? [new FakeModel({ contextSize: config.inference.context_length, ...(opts.fake === true ? {} : opts.fake) })] : [];
  const hearth = await createHearth(config, () => {}, { served });
  const url = await hearth.listen();
  if (opts.load !== false) await hearth.start();
  return {
    url,
    hearth,
    model: "tiny",
    client: new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 }),
    async close() {
      await hearth.close();
      await Promise.all(own.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

/** POSTs a raw body (string or JSON) and returns the status and parsed JSON. */
export async function post(url: string, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) {
  const res = await fetch(url, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, headers: res.headers, json: json as { error?: { message: string; type: string; param: string | null; code: string } } & Record<string, unknown> };
}
