import type { FastifyRequest } from "fastify";
import { errors, type HearthError } from "../../../errors.ts";
import type { ModelRouter } from "../../../serving/ModelRouter.ts";

/**
 * Ollama names models `name:tag` (the tag defaults to `latest`); Hearth's ids and aliases have no
 * tags. A name Hearth knows as it is wins; otherwise `x:latest` (and `x`) is Hearth's `x`, and
 * `hf.co/owner/repo:quant` is the model an Ollama pull of it wrote (see hfName). Anything else stays
 * as given, and is answered 404 by whatever looks it up.
 */
export function hearthName(router: Pick<ModelRouter, "resolveId">, name: string): string {
  if (router.resolveId(name) !== undefined) return name;
  const hf = parseHfName(name);
  if (hf) return pulledId(hf);
  if (name.endsWith(":latest")) return name.slice(0, -":latest".length);
  return name;
}

/** The name an Ollama client sees for a Hearth model: a pulled `hf.co/...` name as it was pulled, else `id:latest` unless the id has a tag. */
export function ollamaName(id: string): string {
  const hf = PULLED.exec(id);
  if (hf) return `hf.co/${hf[1]}/${hf[2]}:${hf[3]}`;
  return id.includes(":") ? id : `${id}:latest`;
}

/** A model name in Ollama's Hugging Face form: `hf.co/owner/repo[:quant]` (or `huggingface.co/...`). */
export interface HfName { owner: string; repo: string; quant: string }

const HF_NAME = /^(?:hf\.co|huggingface\.co)\/([A-Za-z0-9][A-Za-z0-9._-]*)\/([A-Za-z0-9][A-Za-z0-9._-]*)(?::([A-Za-z0-9][A-Za-z0-9._-]*))?$/;
/** Hugging Face refuses `--` in owner and repository names, so it separates the parts unambiguously. */
const PULLED = /^hf\.co--(.+?)--(.+?)--([^-].*)$/;

export function parseHfName(name: string): HfName | null {
  const m = HF_NAME.exec(name);
  if (!m || m[1]!.includes("--") || m[2]!.includes("--")) return null;
  return { owner: m[1]!, repo: m[2]!, quant: m[3] ?? "latest" };
}

/** The model id (file name without `.gguf`) a pull of an `hf.co/...` name writes. */
export const pulledId = (hf: HfName): string => `hf.co--${hf.owner}--${hf.repo}--${hf.quant}`;

/** The model a request names, in Hearth's terms: what the permission step checks. */
export const ollamaModel = (router: Pick<ModelRouter, "resolveId">) => (request: FastifyRequest): string => {
  const body = request.body as { model?: string | null; name?: string | null };
  const name = body.model ?? body.name;
  if (name == null) throw errors.invalidRequest("Missing required parameter: 'model'.", "model");
  return hearthName(router, name);
};

/**
 * Ollama's error body, `{"error": "..."}`, with Hearth's status codes; a model that does not exist
 * is worded as Ollama words it (`model 'x' not found`), which clients look for before offering a pull.
 */
export function ollamaError(err: HearthError, request: FastifyRequest): { error: string } {
  if (err.code === "model_not_found") {
    const body = request.body as { model?: unknown; name?: unknown } | undefined;
    const name = typeof body?.model === "string" ? body.model : typeof body?.name === "string" ? body.name : null;
    if (name !== null) return { error: `model '${name}' not found` };
  }
  return { error: err.message };
}
