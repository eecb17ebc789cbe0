import { errors } from "../../errors.ts";
import { agentFetch } from "./agentFetch.ts";
import { blockedIn, pullAgents } from "./guardedAgents.ts";
import type { OpenedBody } from "./source.ts";

/**
 * A GET from `offset` with the checks a resume needs: a 206 counts only when its Content-Range
 * starts where we asked (else the body is the whole file, or the source changed: start over), and
 * If-Range makes a server that holds a different version send the whole file instead of splicing.
 * Written on fetch rather than node-llama-cpp's downloader (ipull): ipull renames to the final name
 * itself, before a checksum or GGUF check can run, keeps its resume state inside the file, splits a
 * file over parallel ranged requests and retries a refused connection 150 times.
 */
export async function openHttp(url: string, opts: {
  offset: number;
  resumeVersion: string | null;
  headers?: Record<string, string>;
  label: string;
  signal: AbortSignal | undefined;
  allowPrivate: boolean;
}): Promise<OpenedBody> {
  const headers: Record<string, string> = { "accept-encoding": "identity", ...opts.headers };
  if (opts.offset > 0) {
    headers.range = `bytes=${opts.offset}-`;
    if (opts.resumeVersion) headers["if-range"] = opts.resumeVersion;
  }
  const res = await httpRequest(url, { headers, label: opts.label, signal: opts.signal, allowPrivate: opts.allowPrivate });
  const cancel = async () => { await res.body?.cancel().catch(() => {}); };
  const encoding = res.headers.get("content-encoding");
  if (encoding && encoding !== "identity") {
    await cancel();
    throw errors.pullFailed(opts.label, `the server sent a '${encoding}'-encoded body; its size cannot be checked.`);
  }
  const version = strongValidator(res.headers);
  const empty = async function* (): AsyncGenerator<Uint8Array> {};
  if (res.status === 416 && opts.offset > 0) {
    // The partial may already hold the whole file (cut after the last byte, before the rename).
    const total = parseContentRange(res.headers.get("content-range"))?.total ?? null;
    await cancel();
    if (total === opts.offset) return { start: opts.offset, totalBytes: total, version, body: empty(), cancel: async () => {} };
    return openHttp(url, { ...opts, offset: 0 });
  }
  if (!res.ok) {
    await cancel();
    throw statusError(res.status, opts.label);
  }
  if (!res.body) return { start: 0, totalBytes: 0, version, body: empty(), cancel };
  if (res.status === 206) {
    const range = parseContentRange(res.headers.get("content-range"));
    if (!range || range.first !== opts.offset) {
      await cancel();
      if (opts.offset === 0) throw errors.pullFailed(opts.label, "the server answered a plain request with an unusable partial response.");
      return openHttp(url, { ...opts, offset: 0 });
    }
    return { start: opts.offset, totalBytes: range.total, version, body: res.body, cancel };
  }
  const length = res.headers.get("content-length");
  return { start: 0, totalBytes: length !== null && /^\d+$/.test(length) ? Number(length) : null, version, body: res.body, cancel };
}

/**
 * A request with Hearth's errors: refused connections, DNS failures and bad statuses become
 * HearthErrors. Unless `allowPrivate`, every hop's addresses must be public (guardedAgents.ts).
 */
export async function httpRequest(url: string, opts: { method?: "GET" | "HEAD"; headers?: Record<string, string>; label: string; signal: AbortSignal | undefined; redirect?: "follow" | "manual"; allowPrivate: boolean }): Promise<Response> {
  try {
    return await agentFetch(url, { method: opts.method ?? "GET", headers: opts.headers ?? {}, signal: opts.signal, redirect: opts.redirect ?? "follow", agents: pullAgents(opts.allowPrivate) });
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw connectError(err, opts.label);
  }
}

/** A refused address names its class; anything else is a pull_failed with the network error's code. */
export function connectError(err: unknown, label: string) {
  const blocked = blockedIn(err);
  if (blocked) return errors.sourceAddressBlocked(label, blocked.addressClass);
  return errors.pullFailed(label, `could not connect (${networkReason(err)}).`);
}

export function statusError(status: number, label: string) {
  if (status === 404 || status === 410) return errors.modelSourceNotFound(label);
  if (status === 401 || status === 403) return errors.pullFailed(label, `the server refused access (HTTP ${status}); the file may be private or gated.`);
  return errors.pullFailed(label, `the server answered HTTP ${status}.`);
}

/** The code of a network error (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET...), not its stack or addresses. */
export function networkReason(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string") return code;
    e = e.cause;
  }
  return err instanceof Error ? err.message.slice(0, 80) : "unknown error";
}

function parseContentRange(header: string | null): { first: number; total: number | null } | null {
  const h = header?.trim() ?? "";
  const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(h);
  if (range) return { first: Number(range[1]), total: range[2] === "*" ? null : Number(range[2]) };
  const unsatisfied = /^bytes \*\/(\d+)$/.exec(h);
  return unsatisfied ? { first: -1, total: Number(unsatisfied[1]) } : null;
}

/** A weak ETag must not be sent in If-Range (RFC 9110 13.1.5); Last-Modified may be. */
function strongValidator(headers: Headers): string | null {
  const etag = headers.get("etag");
  if (etag && !etag.startsWith("W/")) return etag;
  return headers.get("last-modified");
}
