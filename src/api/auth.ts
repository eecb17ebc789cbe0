import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { errors } from "../errors.ts";
import type { ApiKey } from "../store/KeyStore.ts";
import { isAppPage } from "./routes/webApp.ts";

/** What a request's key allows; the key itself is never kept. */
export type KeyGrant = Pick<ApiKey, "id" | "name" | "models" | "rpm" | "tpm" | "maxParallel">;

export interface KeyVerifier {
  verify(key: string): KeyGrant | null | Promise<KeyGrant | null>;
}

/** Who sent a request: the admin, a key's holder, or nobody in particular (auth off, no key). */
export interface Caller {
  admin: boolean;
  key: KeyGrant | null;
}

declare module "fastify" {
  interface FastifyRequest {
    caller: Caller;
  }
}

export interface AuthOptions {
  mode: "none" | "required";
  adminKey: string | undefined;
  keys: KeyVerifier;
}

const ANYONE: Caller = { admin: false, key: null };
/** Guarded paths outside /v1/: the seeds' aliases of /v1 routes among them. */
const GUARDED = new Set(["/metrics", "/tokenize", "/detokenize", "/chat/completions", "/chat/stream", "/models"]);
/** The WebSocket subprotocol prefix that carries a key. */
export const BEARER_PROTOCOL = "hearth.bearer.";
const digest = (s: string) => createHash("sha256").update(s).digest();

/** Model load, unload and pull, and /v1/admin/*: only the admin key may. */
export function isAdminRoute(method: string, path: string): boolean {
  return path.startsWith("/v1/admin/") || path === "/v1/admin"
    || (method === "POST" && (path === "/v1/models/pull" || /^\/v1\/models\/[^/]+\/(load|unload)$/.test(path)));
}

/**
 * One hook in front of every route, so no route can be forgotten: with `auth: required`, every
 * /v1/* route and /metrics need `Authorization: Bearer <key>` (401 without a valid one); admin
 * routes need the admin key whenever one is configured (403 otherwise). Keys are compared as
 * SHA-256 digests in constant time, and never logged or echoed.
 */
export function registerAuth(app: FastifyInstance, opts: AuthOptions): void {
  const admin = opts.adminKey ? digest(opts.adminKey) : null;
  app.decorateRequest("caller", null as unknown as Caller);
  app.addHook("onRequest", async (request) => {
    const path = (request.url.split("?")[0] ?? "/").replace(/\/+$/, "") || "/";
    const token = bearer(request);
    let caller = ANYONE;
    if (token !== null) {
      if (admin && timingSafeEqual(digest(token), admin)) caller = { admin: true, key: null };
      else {
        const key = await opts.keys.verify(token);
        if (key) caller = { admin: false, key };
        // With auth off, clients send anything ("Bearer unused"): only a known key means something.
        else if (opts.mode === "required") throw errors.invalidApiKey();
      }
    }
    request.caller = caller;
    const guarded = opts.mode === "required" && (path.startsWith("/v1/") || GUARDED.has(path)) && !(path === "/models" && isAppPage(request));
    if (guarded && token === null) throw errors.missingApiKey();
    if (isAdminRoute(request.method, path) && admin && !caller.admin) throw errors.adminRequired();
  });
}

/** The bearer token, or null when none was sent; an OpenAI SDK sends one always. */
function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return protocolKey(request);
  const match = /^Bearer\s+(.*)$/i.exec(header.trim());
  return match ? match[1]!.trim() : "";
}

/**
 * A WebSocket upgrade's key, offered as the subprotocol `hearth.bearer.<key>` (browsers cannot set
 * an Authorization header on a WebSocket); null when there is none.
 */
function protocolKey(request: FastifyRequest): string | null {
  const offered = request.headers["sec-websocket-protocol"];
  if (offered === undefined || (request.headers.upgrade ?? "").toLowerCase() !== "websocket") return null;
  const protocol = offered.split(",").map((p) => p.trim()).find((p) => p.startsWith(BEARER_PROTOCOL));
  return protocol === undefined ? null : protocol.slice(BEARER_PROTOCOL.length);
}

/** Whether a caller may use a model it names as `name`, which resolves to the model `id`. */
export function mayUse(caller: Caller, name: string, id: string | undefined): boolean {
  const allowed = caller.key?.models;
  return !allowed || allowed.includes(name) || (id !== undefined && allowed.includes(id));
}
