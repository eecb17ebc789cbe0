import { errors } from "../../errors.ts";
import { openHttp } from "./httpBody.ts";
import { sha256FromFragment, type ModelSource } from "./source.ts";

/** A plain http(s) URL; `#sha256=<hex>` declares the expected digest. */
export function httpSource(url: URL, allowPrivate: boolean): ModelSource {
  const label = `${url.protocol}//${url.host}${url.pathname}`;
  let sha256: string | null = null;
  if (url.hash) {
    sha256 = sha256FromFragment(url.hash);
    if (!sha256) throw errors.invalidModelSource("the only fragment understood is '#sha256=' followed by 64 hex digits.");
  }
  // fetch refuses URLs with credentials in them; they travel as Basic auth instead.
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
  }
  const target = new URL(url);
  target.hash = "";
  target.username = "";
  target.password = "";
  return {
    label,
    identity: label,
    nameSegment: url.pathname.split("/").at(-1) || null,
    nameSegmentEncoded: true,
    sha256,
    probe: async () => ({ sha256: null, totalBytes: null, version: null }),
    open: (offset, resumeVersion, signal) => openHttp(target.href, { offset, resumeVersion, headers, label, signal, allowPrivate }),
  };
}
