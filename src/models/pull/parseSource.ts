import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { errors } from "../../errors.ts";
import { hfEndpoint, hfFileFromUrl, hfSource, isHfUri, parseHfUri } from "./hfSource.ts";
import { httpSource } from "./httpSource.ts";
import { localSource } from "./localSource.ts";
import { s3Source } from "./s3Source.ts";
import type { ModelSource } from "./source.ts";

export interface SourceContext {
  env: NodeJS.ProcessEnv;
  hfEndpoint: string | undefined;
  allowLocal: boolean;
  cwd: string;
}

/** A scheme of two letters or more, so that a Windows drive (`C:`) still reads as a path. */
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]+):/;

export function parseSource(source: string, ctx: SourceContext): ModelSource {
  if (source.trim() === "") throw errors.invalidModelSource("it is empty.");
  if (source.includes("\0")) throw errors.invalidModelSource("it contains a NUL byte.");
  if (isHfUri(source)) return hfSource(parseHfUri(source), hfEndpoint(ctx.hfEndpoint, ctx.env), ctx.env);
  if (source.startsWith("s3://")) return s3Source(source, ctx.env);
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
    return hub && endpoint ? hfSource(hub, endpoint, ctx.env) : httpSource(url);
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

function local(path: string, ctx: SourceContext): ModelSource {
  if (!ctx.allowLocal) throw errors.invalidModelSource("local paths are not accepted here.");
  return localSource(path);
}
