import { createHash, timingSafeEqual } from "node:crypto";
import { channel } from "node:diagnostics_channel";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { errors } from "../errors.ts";
import type { ApiKey } from "../store/KeyStore.ts";

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

/** Each decision, published for audit logs and tests: `{ request, route, access, allowed }` (route null: none matched). */
export const authDecisions = channel("hearth.auth");

const ANYONE: Caller = { admin: false, key: null };
/** The WebSocket subprotocol prefix that carries a key. */
export const BEARER_PROTOCOL = "hearth.bearer.";
const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Who may call a route, declared on the route (`config: { access }`): `open` needs nothing,
 * `key` needs a key when auth is required, `admin` needs the admin key. A route that declares
 * nothing (and a path no route matches) needs a key: deny by default.
 */
export type Access = "open" | "key" | "admin";

declare module "fastify" {
  interface FastifyInstance {
    /** Every registered route and who may call it. */
    routeTable: () => RouteAccess[];
  }
  interface FastifyContextConfig {
    access?: Access;
    /** A GET that asks for HTML is a browser opening the web app's page of the same name: open. */
    appPage?: boolean;
  }
}

/** One registered route and who may call it: what the route walk test and the docs read. */
export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
  websocket: boolean;
}

/** Whether a request wants a page (a browser navigating), not the API's JSON. */
export const wantsPage = (request: Pick<FastifyRequest, "method" | "headers">) =>
  (request.method === "GET" || request.method === "HEAD") && (request.headers.accept ?? "").includes("text/html");

/**
 * What the route the router matched declares. Decided on the matched route, never on the URL text:
 * the router decodes percent-encoding (`/%761/admin/keys` is `/v1/admin/keys`), so any check on the
 * raw URL can be walked around.
 */
export function routeAccess(request: FastifyRequest): Access {
  const config = request.routeOptions.config as { access?: Access; appPage?: boolean } | undefined;
  if (config?.appPage && wantsPage(request)) return "open";
  return config?.access ?? "key";
}

/**
 * One hook in front of every route, so no route can be forgotten: with `auth: required`, every
 * route that is not declared open needs `Authorization: Bearer <key>` or `x-api-key: <key>` (401
 * without a valid one).
 * Admin routes need the admin key (403 otherwise); with no admin key configured, they are open
 * only while auth is off (one user on their own machine) and closed to everyone when it is
 * required. Keys are compared as SHA-256 digests in constant time, and never logged or echoed.
 * Returns the table of routes and who may call each; a route declaring an unknown access fails
 * the server's start.
 */
export function registerAuth(app: FastifyInstance, opts: AuthOptions): () => RouteAccess[] {
  const admin = opts.adminKey ? digest(opts.adminKey) : null;
  // Options are read once every onRoute hook has run: a scope's own hook may declare its routes.
  const routes: { method: string | string[]; url: string; config?: unknown; websocket?: boolean }[] = [];
  app.addHook("onRoute", (route) => { routes.push(route); });
  const table = () => routes.flatMap((route): RouteAccess[] => {
    const access = (route.config as { access?: Access } | undefined)?.access ?? "key";
    if (access !== "open" && access !== "key" && access !== "admin") throw new Error(`route ${route.url}: unknown access '${String(access)}'`);
    return [route.method].flat().map((method) => ({ method, url: route.url, access, websocket: route.websocket === true }));
  });
  app.addHook("onReady", async () => { table(); });
  app.decorateRequest("caller", null as unknown as Caller);
  app.addHook("onRequest", async (request) => {
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
    const access = routeAccess(request);
    const refusal = access === "open" ? null
      : opts.mode === "required" && token === null ? errors.missingApiKey()
      : access === "admin" && !caller.admin && (admin !== null || opts.mode === "required") ? errors.adminRequired()
      : null;
    if (authDecisions.hasSubscribers) authDecisions.publish({ request, route: request.routeOptions.url ?? null, access, allowed: refusal === null });
    if (refusal) throw refusal;
  });
  return table;
}

/**
 * The key a request carries, or null when none was sent: `Authorization: Bearer` (an OpenAI SDK
 * sends one always), else `x-api-key` (Anthropic's SDK and the clients built on it).
 */
function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined) {
    const apiKey = request.headers["x-api-key"];
    return typeof apiKey === "string" ? apiKey.trim() : protocolKey(request);
  }
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
