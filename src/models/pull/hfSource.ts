import { errors } from "../../errors.ts";
import { httpRequest, openHttp, statusError } from "./httpBody.ts";
import { SHA256_HEX, sha256FromFragment, type ModelSource, type SourceFacts } from "./source.ts";

/**
 * Hugging Face hub files. Accepted forms (prefix `hf:`, `hf://`, `huggingface:` or `huggingface://`):
 *   hf:owner/repo/path/file.gguf           the main branch
 *   hf:owner/repo:revision/path/file.gguf
 *   hf:owner/repo/path/file.gguf#revision  (node-llama-cpp's form)
 *   ...#sha256=<hex>                        an expected digest
 * and hub URLs `<endpoint>/owner/repo/(resolve|blob)/revision/path/file.gguf`. node-llama-cpp's
 * `hf:owner/repo:quant` (no file) is refused: resolving it needs the hub's manifest API.
 */
const PREFIX = /^(?:hf|huggingface):(?:\/\/)?/;
const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DEFAULT_ENDPOINT = "https://huggingface.co";

export interface HfFile {
  owner: string;
  repo: string;
  revision: string;
  path: string[];
  sha256: string | null;
}

export function isHfUri(source: string): boolean {
  return PREFIX.test(source);
}

export function parseHfUri(source: string): HfFile {
  const body = source.replace(PREFIX, "");
  const hashAt = body.indexOf("#");
  const main = hashAt === -1 ? body : body.slice(0, hashAt);
  const fragment = hashAt === -1 ? "" : body.slice(hashAt + 1);
  const [owner = "", repoRev = "", ...path] = main.split("/");
  const colon = repoRev.indexOf(":");
  const repo = colon === -1 ? repoRev : repoRev.slice(0, colon);
  let revision = colon === -1 ? "" : repoRev.slice(colon + 1);
  let sha256: string | null = null;
  if (fragment) {
    sha256 = sha256FromFragment(fragment);
    if (!sha256) {
      if (fragment.startsWith("sha256")) throw errors.invalidModelSource("'#sha256=' must be followed by 64 hex digits.");
      if (revision) throw errors.invalidModelSource("give the revision once, as 'repo:revision' or '#revision'.");
      revision = fragment;
    }
  }
  return checkHfFile({ owner, repo, revision: revision || "main", path, sha256 });
}

function checkHfFile(file: HfFile): HfFile {
  if (!REPO_PART.test(file.owner) || !REPO_PART.test(file.repo)) throw errors.invalidModelSource("a Hugging Face source looks like 'hf:owner/repo/file.gguf'.");
  if (file.path.length === 0) throw errors.invalidModelSource("name the file in the repository, as in 'hf:owner/repo/file.gguf'.");
  if (file.path.some((p) => p === "" || p === "." || p === ".." || /[\0/\\]/.test(p))) {
    throw errors.invalidModelSource("the file path in the repository has an empty, '.' or '..' segment, or an encoded separator.");
  }
  if (file.revision.includes("\0") || file.revision.includes("..")) throw errors.invalidModelSource("the revision is not a valid branch, tag or commit.");
  return file;
}

/** A hub URL under `endpoint` (or huggingface.co), as an HfFile; null for any other URL. */
export function hfFileFromUrl(url: URL, endpoint: string): HfFile | null {
  const base = new URL(endpoint);
  const hubHosts = new Set([base.host, "huggingface.co", "hf.co"]);
  if (!hubHosts.has(url.host)) return null;
  const prefix = base.host === url.host ? base.pathname.replace(/\/$/, "") : "";
  if (!url.pathname.startsWith(`${prefix}/`)) return null;
  const parts = url.pathname.slice(prefix.length + 1).split("/");
  const [owner, repo, kind, revision, ...path] = parts;
  if (!owner || !repo || (kind !== "resolve" && kind !== "blob") || !revision || path.length === 0) return null;
  let sha256: string | null = null;
  if (url.hash) {
    sha256 = sha256FromFragment(url.hash);
    if (!sha256) throw errors.invalidModelSource("the only fragment understood is '#sha256=' followed by 64 hex digits.");
  }
  try {
    const dec = decodeURIComponent;
    return checkHfFile({ owner: dec(owner), repo: dec(repo), revision: dec(revision), path: path.map(dec), sha256 });
  } catch (err) {
    if (err instanceof URIError) throw errors.invalidModelSource("the URL is not validly percent-encoded.");
    throw err;
  }
}

export function hfEndpoint(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  const endpoint = explicit ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw errors.invalidModelSource("the Hugging Face endpoint is not a URL.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw errors.invalidModelSource("the Hugging Face endpoint must be an http(s) URL.");
  return url.href.replace(/\/$/, "");
}

export function hfSource(file: HfFile, endpoint: string, env: NodeJS.ProcessEnv, allowPrivate: boolean): ModelSource {
  const enc = encodeURIComponent;
  const resolveUrl = `${endpoint}/${enc(file.owner)}/${enc(file.repo)}/resolve/${enc(file.revision)}/${file.path.map(enc).join("/")}`;
  const revisionPart = file.revision === "main" ? "" : `:${file.revision}`;
  const label = `hf:${file.owner}/${file.repo}${revisionPart}/${file.path.join("/")}`;
  const token = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  // Authorization is dropped when a redirect leaves the origin, so the token never reaches the CDN.
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    label,
    identity: `${endpoint} ${label}`,
    nameSegment: file.path.at(-1) ?? null,
    nameSegmentEncoded: false,
    sha256: file.sha256,
    probe: (signal) => probeHub(resolveUrl, { headers, label, signal, allowPrivate }),
    // The hub's sha256 (the probe's version) guards a resume; the CDN's validators vary by edge.
    open: (offset, _resumeVersion, signal) => openHttp(resolveUrl, { offset, resumeVersion: null, headers, label, signal, allowPrivate }),
  };
}

/**
 * A HEAD of the resolve URL, as huggingface_hub does: for an LFS file the hub answers with a
 * redirect to its CDN that carries X-Linked-Etag (the sha256) and X-Linked-Size. Redirects on the
 * hub's own origin (a renamed repository) are followed; the CDN's answer would hold its own headers.
 */
async function probeHub(url: string, opts: { headers: Record<string, string>; label: string; signal: AbortSignal | undefined; allowPrivate: boolean }): Promise<SourceFacts> {
  const { headers, label } = opts;
  for (let hop = 0; hop < 5; hop++) {
    const res = await httpRequest(url, { ...opts, method: "HEAD", headers: { "accept-encoding": "identity", ...headers }, redirect: "manual" });
    await res.body?.cancel().catch(() => {});
    const location = res.headers.get("location");
    const redirected = res.status >= 300 && res.status < 400 && location !== null;
    if (redirected && !res.headers.has("x-linked-etag")) {
      const next = new URL(location, url);
      if (next.origin === new URL(url).origin) {
        url = next.href;
        continue;
      }
    } else if (!redirected && !res.ok) {
      throw statusError(res.status, label);
    }
    const linked = unquote(res.headers.get("x-linked-etag"));
    const etag = unquote(res.headers.get("etag"));
    const sha256 = [linked, etag].find((v) => v !== null && SHA256_HEX.test(v)) ?? null;
    const sizeHeader = res.headers.get("x-linked-size") ?? (redirected ? null : res.headers.get("content-length"));
    const totalBytes = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;
    return { sha256, totalBytes, version: sha256 ?? linked ?? etag };
  }
  throw errors.pullFailed(label, "the hub redirected too many times.");
}

function unquote(etag: string | null): string | null {
  if (etag === null) return null;
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1").toLowerCase();
}
