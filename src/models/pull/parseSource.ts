import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { errors } from "../../errors.ts";
import { checkLiteralHost } from "./guardedAgents.ts";
import { hfEndpoint, hfFileFromUrl, hfSource, isHfUri, parseHfUri } from "./hfSource.ts";
import { connectError } from "./httpBody.ts";
import { httpSource } from "./httpSource.ts";
import { localSource } from "./localSource.ts";
import { s3Source } from "./s3Source.ts";
import type { ModelSource } from "./source.ts";

export interface SourceContext {
  env: NodeJS.ProcessEnv;
  hfEndpoint: string | undefined;
  allowLocal: boolean;
  /** Whether sources on loopback, private and other non-public addresses are accepted. */
  allowPrivateAddresses: boolean;
  cwd: string;
}

/** A scheme of two letters or more, so that a Windows drive (`C:`) still reads as a path. */
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]+):/;

export function parseSource(source: string, ctx: SourceContext): ModelSource {
  if (source.trim() === "") throw errors.invalidModelSource("it is empty.");
  if (source.includes("\0")) throw errors.invalidModelSource("it contains a NUL byte.");
  const allow = ctx.allowPrivateAddresses;
  if (isHfUri(source)) {
    const endpoint = hfEndpoint(ctx.hfEndpoint, ctx.env);
    return checkedHost(hfSource(parseHfUri(source), endpoint, ctx.env, allow), endpoint, ctx);
  }
  if (source.startsWith("s3://")) return checkedHost(s3Source(source, ctx.env, allow), ctx.env.AWS_ENDPOINT_URL_S3 || ctx.env.AWS_ENDPOINT_URL, ctx);
  const scheme = SCHEME.exec(source)?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw errors.invalidModelSource("it is not a valid URL.");
    }
    // A malformed HF_ENDPOINT matters only to hub sources; a plain URL still works.
    let endpoint: string | null = null;
    try {
      endpoint = hfEndpoint(ctx.hfEndpoint, ctx.env);
    } catch {}
    const hub = endpoint === null ? null : hfFileFromUrl(url, endpoint);
    return checkedHost(hub && endpoint ? hfSource(hub, endpoint, ctx.env, allow) : httpSource(url, allow), hub && endpoint ? endpoint : url.href, ctx);
  }
  if (scheme === "file") {
    let path: string;
    try {
      path = fileURLToPath(source);
    } catch {
      throw errors.invalidModelSource("a file: URL must name a local absolute path (file:///...).");
    }
    return local(path, ctx);
  }
  if (scheme !== undefined) throw errors.invalidModelSource(`the scheme '${scheme}:' is not supported; use http(s)://, hf:, s3:// or a local path.`);
  return local(isAbsolute(source) ? source : resolve(ctx.cwd, source), ctx);
}

/**
 * An IP literal is judged here, before anything is sent, so that the pull route can answer a
 * plain 400; a host name is judged when it is resolved, at each connection (guardedAgents.ts).
 */
function checkedHost(src: ModelSource, url: string | undefined, ctx: SourceContext): ModelSource {
  if (ctx.allowPrivateAddresses || !url) return src;
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return src; // the source reports its own malformed endpoint when it connects
  }
  try {
    checkLiteralHost(host);
  } catch (err) {
    src.close?.();
    throw connectError(err, src.label);
  }
  return src;
}

function local(path: string, ctx: SourceContext): ModelSource {
  if (!ctx.allowLocal) throw errors.invalidModelSource("local paths are not accepted here.");
  return localSource(path);
}
