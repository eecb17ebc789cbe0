import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { errors } from "../../../errors.ts";
import { hfRepoFile } from "../../../models/pull/hfRepoFile.ts";
import type { PullProgress } from "../../../models/pull/pullModel.ts";
import { NDJSON } from "../../respond.ts";
import { ndjsonStream } from "../../sse.ts";
import { startStream } from "../../sse.ts";
import { OllamaProgress, type OllamaProgress as Progress } from "../../../wire/ollama.ts";
import type { RouteDeps } from "../deps.ts";
import { clientGone, modelPull } from "../pull.ts";
import { ollamaError, parseHfName, pulledId } from "./names.ts";
import { OllamaPullRequest } from "./schema.ts";

/** Hearth's own source forms, pulled as /v1/models/pull pulls them. */
const SOURCE = /^(https?:\/\/|hf:|hf:\/\/|huggingface:|s3:\/\/)/i;

/**
 * POST /api/pull: Ollama's registry cannot be reached from here, so the names pulled are GGUF
 * sources: Hearth's (`https://...`, `hf:owner/repo/file.gguf`, `s3://bucket/key`, named after
 * their file) and Ollama's Hugging Face form `hf.co/owner/repo[:quant]`, the repository's file of
 * that quantization, served under the same name afterwards. Progress is NDJSON (`pulling
 * manifest`, the download's `completed` of `total` bytes, `verifying sha256 digest`, `success`),
 * an error its last line; one object once done when `stream` is false. An admin operation.
 */
export function ollamaPullRoute(app: FastifyInstance, deps: RouteDeps): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post("/api/pull", {
    schema: { body: OllamaPullRequest, response: { 200: { content: { "application/json": { schema: OllamaProgress }, ...ndjsonStream(OllamaProgress) } } } },
    serializerCompiler: () => JSON.stringify,
    config: { access: "admin", errorShape: ollamaError },
  }, async (request, reply) => {
    const body = request.body;
    const name = body.model ?? body.name;
    if (name == null) throw errors.invalidRequest("Missing required parameter: 'model'.", "model");
    const signal = clientGone(reply);
    const hf = parseHfName(name);
    if (!hf && !SOURCE.test(name)) {
      throw errors.invalidModelSource(`'${name.slice(0, 200)}' names a model of Ollama's registry, which this server does not reach. Pull a GGUF file instead: hf.co/owner/repo:QUANT (a Hugging Face repository's file of that quantization), hf:owner/repo/file.gguf, an https:// URL or s3://bucket/key.`);
    }
    // The hub is asked for the file before anything is sent, so that a repository without it is a plain 404.
    const source = hf ? await hfRepoFile(hf.owner, hf.repo, hf.quant, { env: process.env, allowPrivateAddresses: deps.pullAllowPrivateAddresses, signal }) : name;
    const pull = modelPull(deps, source, hf ? pulledId(hf) : undefined, signal);
    if (body.stream === false) {
      await pull.run();
      return { status: "success" };
    }
    reply.hijack();
    const res = reply.raw;
    startStream(res, {}, NDJSON.contentType);
    const send = (line: Progress | { error: string }) => { if (!res.destroyed) res.write(NDJSON.frame(line)); };
    send({ status: "pulling manifest" });
    try {
      await pull.run((p) => send(progressLine(p)));
      send({ status: "success" });
    } catch (err) {
      send({ error: deps.report(request, err).message });
    } finally {
      res.end();
    }
    return reply;
  });
}

/** A progress event as Ollama's line: the model's id stands where Ollama names a layer's digest (the file's sha256 is known only at the end). */
function progressLine(p: PullProgress): Progress {
  if (p.phase === "verifying" || p.phase === "done") return { status: "verifying sha256 digest" };
  return { status: `pulling ${p.id}`, digest: p.id, total: p.totalBytes ?? 0, completed: p.receivedBytes };
}
