import { isIP } from "node:net";
import type { FastifyInstance, FastifyReply } from "fastify";
import { errors } from "../errors.ts";
import { routeAccess } from "./auth.ts";
import { listenerOf } from "./listeners.ts";

export interface BrowserGuardOptions {
  /** The address the server listens on: on a loopback one, only loopback Host names (and `allowedHosts`) are answered. */
  listenHost: string;
  /** The address of each second listener (the Ollama port), by name: its requests are judged by where they came in. */
  listenerHosts?: Readonly<Record<string, string>>;
  /** Host names answered besides loopback ones; `.example.com` also allows its subdomains. Set: only these (and loopback, when listening there). */
  allowedHosts: readonly string[];
  /** Web origins (`https://app.example.com`) whose pages may call the API, with CORS headers; `*`: any, never with credentials. */
  corsOrigins: readonly string[];
}

/** Methods a page from another origin may send without asking (their answers it cannot read without CORS). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const EXPOSED = "x-hearth-cache, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens, retry-after, retry-after-ms, server-timing";

/**
 * The risks a web browser brings to a server on localhost, in one hook before auth:
 * - DNS rebinding (Ollama's CVE-2024-28224): a page on evil.example whose name comes to resolve to
 *   127.0.0.1 reaches the server with `Host: evil.example`; a loopback server answers loopback
 *   names only (and `allowed_hosts`). 403 `host_not_allowed`.
 * - Cross-site requests: any page can POST a `text/plain` body (a "simple request", which needs no
 *   preflight), and the server reads any body as JSON; so a request from another origin (by
 *   `Origin`, or `Sec-Fetch-Site: cross-site`) not in `cors_origins` is refused unless it is a GET,
 *   HEAD or OPTIONS of a non-admin route. WebSocket upgrades are checked the same way
 *   (cross-site WebSocket hijacking). Clients that send no Origin (SDKs, curl) are unaffected.
 * - CORS headers, and preflight answers, for the origins in `cors_origins` only.
 * - `X-Content-Type-Options: nosniff` on every response; HTML gets a Content-Security-Policy.
 */
export function registerBrowserGuard(app: FastifyInstance, opts: BrowserGuardOptions): void {
  const loopback = (host: string) => isLoopbackName(host.replace(/^\[|\]$/g, ""));
  const loopbackListeners = new Map(Object.entries(opts.listenerHosts ?? {}).map(([name, host]) => [name, loopback(host)]));
  const ownLoopback = loopback(opts.listenHost);
  const allowed = opts.allowedHosts.map((h) => h.trim().toLowerCase()).filter(Boolean);
  const origins = new Set(opts.corsOrigins.map((o) => o.trim().replace(/\/+$/, "").toLowerCase()).filter(Boolean));
  const anyOrigin = origins.has("*");

  const hostAllowed = (host: string | null, loopbackOnly: boolean): boolean => {
    if (host === null) return true; // HTTP/1.0 without Host: not a browser
    if (allowed.some((a) => a === host || (a.startsWith(".") && (host.endsWith(a) || host === a.slice(1))))) return true;
    // Listening on all addresses with allowed_hosts set: those and loopback names.
    if (loopbackOnly || allowed.length > 0) return isLoopbackName(host);
    return true;
  };

  app.addHook("onRequest", async (request, reply) => {
    void reply.header("x-content-type-options", "nosniff");
    const hostHeader = request.headers.host;
    const listener = listenerOf(request.raw);
    const loopbackOnly = listener === undefined ? ownLoopback : loopbackListeners.get(listener) ?? ownLoopback;
    if (!hostAllowed(hostName(hostHeader), loopbackOnly)) throw errors.hostNotAllowed();
    const origin = request.headers.origin;
    const sameOrigin = origin !== undefined && origin !== "null" && originHost(origin) === (hostHeader ?? "").toLowerCase();
    const listed = origin !== undefined && (anyOrigin || origins.has(origin.toLowerCase()));
    const crossSite = origin !== undefined ? !sameOrigin : request.headers["sec-fetch-site"] === "cross-site";
    if (listed && !sameOrigin) corsHeaders(reply, origins.has(origin.toLowerCase()) ? origin : "*");
    const upgrade = (request.headers.upgrade ?? "").toLowerCase() === "websocket";
    if (crossSite && !listed && (upgrade || !SAFE_METHODS.has(request.method) || routeAccess(request) === "admin")) {
      throw errors.originNotAllowed();
    }
    // A CORS preflight from a listed origin is answered here: the routes have no OPTIONS handlers.
    if (request.method === "OPTIONS" && listed && request.headers["access-control-request-method"] !== undefined) {
      void reply.header("access-control-allow-methods", "GET, POST, PATCH, DELETE, OPTIONS");
      void reply.header("access-control-allow-headers", "authorization, content-type, x-stainless-os, x-stainless-lang, x-stainless-package-version, x-stainless-runtime, x-stainless-runtime-version, x-stainless-arch, x-stainless-retry-count, x-stainless-timeout, openai-organization, openai-project");
      void reply.header("access-control-max-age", "600");
      return reply.code(204).send();
    }
    return undefined;
  });

  // A WebSocket upgrade answered with an HTTP response (refused: 401, 403...) has a socket no HTTP
  // server tracks any more: close it, or it stays open (and keeps the server from closing).
  app.addHook("onResponse", async (request) => {
    if ((request.headers.upgrade ?? "").toLowerCase() === "websocket") request.raw.socket?.destroy();
  });

  app.addHook("onSend", async (request, reply, payload) => {
    const type = String(reply.getHeader("content-type") ?? "");
    if (type.startsWith("text/html")) {
      void reply.header("content-security-policy", contentSecurityPolicy(hostName(request.headers.host) !== null ? request.headers.host! : null));
      void reply.header("referrer-policy", "no-referrer");
      void reply.header("x-frame-options", "DENY");
    }
    return payload;
  });
}

function corsHeaders(reply: FastifyReply, origin: string): void {
  void reply.header("access-control-allow-origin", origin);
  void reply.header("access-control-expose-headers", EXPOSED);
  void reply.header("vary", "Origin");
}

/**
 * The pages' policy: their own scripts only, no framing. Styles may be inline (Swagger UI and the
 * charts set them). connect-src names the WebSocket origin too, which older browsers do not count as 'self'.
 */
function contentSecurityPolicy(host: string | null): string {
  const ws = host !== null && /^[A-Za-z0-9.\-[\]:]+$/.test(host) ? ` ws://${host} wss://${host}` : "";
  return `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'${ws}; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'`;
}

/** The host name of a Host header, lower case, without its port or IPv6 brackets; null when absent. */
export function hostName(header: string | undefined): string | null {
  if (header === undefined || header === "") return null;
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") === -1 ? undefined : h.indexOf("]"));
  const colon = h.indexOf(":");
  return colon === -1 ? h : h.slice(0, colon);
}

/** `host[:port]` of an Origin, lower case; null when it is not a URL. */
function originHost(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

/** localhost, *.localhost, 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z). */
export function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^(0:){7}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}
