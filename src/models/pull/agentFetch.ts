import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import type { Agents } from "./guardedAgents.ts";

const MAX_REDIRECTS = 20;
/** undici's default headers and body timeouts, which the pulls relied on before. */
const IDLE_TIMEOUT_MS = 300_000;
const NULL_BODY = new Set([101, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A GET or HEAD through `agents`, answered as a fetch Response. fetch cannot take a node agent
 * (and so no checked DNS lookup), which is why pulls use this instead. Redirects are followed as
 * fetch follows them, each hop connecting through the same agents; Authorization is dropped when
 * a redirect leaves the origin.
 */
export async function agentFetch(url: string, opts: {
  method: "GET" | "HEAD";
  headers: Record<string, string>;
  signal: AbortSignal | undefined;
  redirect: "follow" | "manual";
  agents: Agents;
}): Promise<Response> {
  let target = new URL(url);
  let headers = { ...opts.headers };
  for (let hop = 0; ; hop++) {
    const res = await send(target, opts.method, headers, opts);
    const location = res.headers.location;
    const status = res.statusCode ?? 0;
    if (opts.redirect === "manual" || !REDIRECTS.has(status) || location === undefined) return toResponse(res, opts.method);
    res.destroy();
    if (hop === MAX_REDIRECTS) throw new Error("too many redirects");
    const next = new URL(location, target);
    if (next.protocol !== "http:" && next.protocol !== "https:") throw new Error(`a redirect to a ${next.protocol} URL`);
    if (next.origin !== target.origin) {
      const { authorization: _dropped, ...rest } = headers;
      headers = rest;
    }
    target = next;
  }
}

function send(url: URL, method: string, headers: Record<string, string>, opts: { signal: AbortSignal | undefined; agents: Agents }): Promise<IncomingMessage> {
  const https = url.protocol === "https:";
  if (!https && url.protocol !== "http:") return Promise.reject(new Error(`the ${url.protocol} scheme is not supported`));
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(url, {
      method, headers, agent: https ? opts.agents.https : opts.agents.http, ...(opts.signal ? { signal: opts.signal } : {}),
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error("the server stopped answering"), { code: "ETIMEDOUT" })));
    req.once("response", resolve);
    req.on("error", reject);
    req.end();
  });
}

function toResponse(res: IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
  }
  const status = res.statusCode ?? 0;
  const empty = method === "HEAD" || NULL_BODY.has(status);
  if (empty) res.destroy();
  if (status < 200 || status > 599) {
    res.destroy();
    throw new Error(`the server answered with status ${status}`);
  }
  return new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? "", headers });
}
