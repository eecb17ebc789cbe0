import { errors } from "../../errors.ts";
import { hfEndpoint } from "./hfSource.ts";
import { httpRequest, statusError } from "./httpBody.ts";

/** The quantization Ollama and the hub take when a name gives none (`latest`). */
const DEFAULT_QUANT = "Q4_K_M";
/** A listing is a few KB; a body much larger than this is not the hub's. */
const MAX_LISTING_BYTES = 8 * 1024 * 1024;

/**
 * The `hf:` source of the GGUF file in a Hugging Face repository whose name carries `quant` (as
 * `model-Q4_K_M.gguf` or `model.Q8_0.gguf`), for names that give a repository and a quantization
 * rather than a file (Ollama's `hf.co/owner/repo:quant`). The files are listed by the hub's API
 * (GET <endpoint>/api/models/owner/repo); vision projectors (`mmproj`) are not models. `latest`:
 * the only GGUF file, else the Q4_K_M one. None or several matching is a 404 or a 400 that lists
 * the repository's GGUF files.
 */
export async function hfRepoFile(owner: string, repo: string, quant: string, opts: { env: NodeJS.ProcessEnv; allowPrivateAddresses: boolean; signal?: AbortSignal }): Promise<string> {
  const endpoint = hfEndpoint(undefined, opts.env);
  const label = `hf:${owner}/${repo}`;
  const token = opts.env.HF_TOKEN ?? opts.env.HUGGING_FACE_HUB_TOKEN;
  const url = `${endpoint}/api/models/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
  const res = await httpRequest(url, { label, signal: opts.signal, allowPrivate: opts.allowPrivateAddresses, headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw statusError(res.status, label);
  }
  const text = await res.text();
  let listing: { siblings?: { rfilename?: unknown }[] };
  try {
    if (text.length > MAX_LISTING_BYTES) throw new Error("too large");
    listing = JSON.parse(text) as typeof listing;
  } catch {
    throw errors.pullFailed(label, "the hub's file listing is not JSON.");
  }
  const ggufs = (listing.siblings ?? []).map((s) => s.rfilename).filter((f): f is string => typeof f === "string" && /\.gguf$/i.test(f) && !/mmproj/i.test(f));
  const pick = pickQuant(ggufs, quant);
  if (pick.length === 1) return `hf:${owner}/${repo}/${pick[0]}`;
  const listed = ggufs.length > 0 ? ` Its GGUF files: ${ggufs.slice(0, 20).join(", ")}${ggufs.length > 20 ? ", ..." : ""}.` : " It has no GGUF file.";
  if (pick.length === 0) throw errors.modelSourceNotFound(`${label}:${quant}`, listed);
  throw errors.invalidModelSource(`several files of ${label} match '${quant}': ${pick.join(", ")}; name one as hf:${owner}/${repo}/<file>.`);
}

/** The files whose name holds the quantization as a part of its own (`Q4_K` is not `Q4_K_M`). */
function pickQuant(files: readonly string[], quant: string): string[] {
  if (quant.toLowerCase() === "latest") {
    if (files.length === 1) return [...files];
    return pickQuant(files, DEFAULT_QUANT);
  }
  const escaped = quant.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const part = new RegExp(`(^|[-._/])${escaped}([-.]|$)`, "i");
  // A model split over several files (`-00001-of-00003`) cannot be pulled as one file.
  return files.filter((f) => part.test(f.replace(/\.gguf$/i, "")) && !/-\d{5}-of-\d{5}/.test(f));
}
