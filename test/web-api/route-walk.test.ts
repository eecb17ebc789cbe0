import assert from "node:assert/strict";
import { request as httpRequest, Agent } from "node:http";
import { after, before, test } from "node:test";
import { authDecisions, type Access, type RouteAccess } from "../../src/api/auth.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/**
 * Every registered route (HTTP and WebSocket), with no key, a user key and the admin key, under
 * many spellings of its path: a spelling the router takes for the same route gets the same decision
 * as the canonical path, and no spelling reaches a route the canonical path refuses. Requests that
 * get through carry a body that is not JSON (or are GETs), so no handler changes anything.
 */
const ADMIN = "admin-key-for-the-route-walk-0123";
type Caller = "none" | "user" | "admin";

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
let server: TestServer;
let keys: Record<Caller, string | null>;
before(async () => {
  server = await startServer({ fake: true, load: false, config: { auth: "required", admin_key: ADMIN } });
  const created = await fetch(`${server.url}/v1/admin/keys`, {
    method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ name: "walker" }),
  });
  keys = { none: null, user: (await created.json() as { key: string }).key, admin: ADMIN };
});
after(async () => {
  agent.destroy();
  await server.close();
});

/** What the auth hook decided for each walked request, by its x-walk id (see authDecisions). */
interface Seen { route: string | null; allowed: boolean }
const seen = new Map<string, Seen>();
const onDecision = (m: unknown) => {
  const { request, route, allowed } = m as { request: { headers: Record<string, string | undefined> }; route: string | null; allowed: boolean };
  const id = request.headers["x-walk"];
  if (id !== undefined) seen.set(id, { route, allowed });
};
authDecisions.subscribe(onDecision);
after(() => authDecisions.unsubscribe(onDecision));
let walkId = 0;

interface Answer { status: number; code: string | null; seen: Seen | undefined }

/** One raw request: the path goes on the wire exactly as given (no URL normalisation). */
function send(base: string, method: string, websocket: boolean, path: string, key: string | null): Promise<Answer> {
  const { hostname, port } = new URL(base);
  const id = String(++walkId);
  const headers: Record<string, string> = { "x-walk": id, ...(key !== null ? { authorization: `Bearer ${key}` } : {}) };
  if (websocket) Object.assign(headers, { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" });
  const body = method === "GET" || method === "HEAD" ? undefined : "{not json";
  if (body !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": String(body.length) });
  return new Promise((resolve, reject) => {
    const done = (status: number, code: string | null) => resolve({ status, code, seen: seen.get(id) });
    const req = httpRequest({ host: hostname, port, method, path, headers, agent: websocket ? false : agent });
    req.on("upgrade", (_res, socket) => { socket.destroy(); done(101, null); });
    req.on("response", (res) => {
      // An open stream (the model events' SSE) never ends: its status says all.
      if (!(res.headers["content-type"] ?? "").includes("application/json")) {
        res.destroy();
        return done(res.statusCode ?? 0, null);
      }
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => { text += c; }).on("end", () => {
        let code: string | null = null;
        try { code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null; } catch { /* a HEAD has no body */ }
        done(res.statusCode ?? 0, code);
      }).on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error("no answer")));
    req.on("error", (err) => reject(new Error(`${method} ${path}: ${err.message}`)));
    req.end(body);
  });
}

/** A concrete path for a route: parameters and wildcards filled with names that exist nowhere. */
const concrete = (url: string) => url.replace(/:[A-Za-z_]+/g, "nosuch").replace(/\*$/, "x");
const hex = (c: string, upper: boolean) => { const h = c.charCodeAt(0).toString(16); return `%${upper ? h.toUpperCase() : h}`; };

/** Spellings the router must take for the very same route: percent-encoded unreserved characters, a query. */
function sameRoute(path: string): string[] {
  const out = new Set<string>([`${path}?x=1`]);
  for (let i = 1; i < path.length; i++) {
    if (!/[A-Za-z0-9]/.test(path[i]!) || (path[i - 1] !== "/" && i !== path.length - 1)) continue;
    out.add(path.slice(0, i) + hex(path[i]!, false) + path.slice(i + 1));
    out.add(path.slice(0, i) + hex(path[i]!, true) + path.slice(i + 1));
  }
  out.add(path.split("/").map((seg) => [...seg].map((c) => /[a-z]/.test(c) ? hex(c, false) : c).join("")).join("/"));
  out.delete(path);
  return [...out];
}

/** Spellings that may route elsewhere or nowhere, but must never get past a refusal. */
function otherSpellings(path: string): string[] {
  const segs = path.split("/").slice(1);
  const out = new Set<string>([
    `/${path}`, `${path}/`, `${path}//`, `${path}/.`, `${path}/..`, `${path};x`, `${path}%00`, `${path}%20`, `${path}%2f`,
    path.toUpperCase(), `/${path.slice(1).replace(/\//g, "\\")}`, `/${path.slice(1).replace(/\//g, "%2F")}`, `/${path.slice(1).replace(/\//g, "%2f")}`,
    `/x/..${path}`, `/.${path}`, `/%2e${path}`, `/x/%2e%2e${path}`, `/x%2f..${path}`,
  ]);
  for (let i = 0; i < segs.length; i++) {
    const before = `/${segs.slice(0, i).join("/")}`.replace(/^\/$/, "");
    const rest = segs.slice(i).join("/");
    out.add(`${before}//${rest}`);
    out.add(`${before}/./${rest}`);
    out.add(`${before}/nosuch/../${rest}`);
    out.add(`${before}/nosuch/%2e%2e/${rest}`);
    if (i > 0) out.add(`${before};x/${rest}`);
    const seg = segs[i]!;
    if (seg.length > 0) {
      out.add(`${before}/%25${seg.charCodeAt(0).toString(16)}${seg.slice(1)}${rest.slice(seg.length)}`);
      out.add(`${before}/${seg[0]!.toUpperCase()}${seg.slice(1)}${rest.slice(seg.length)}`);
    }
  }
  out.delete(path);
  return [...out];
}

/** Whether a caller may call a route of this access, with an admin key set. */
function mayCall(access: Access, caller: Caller, authRequired: boolean): boolean {
  if (access === "open" || caller === "admin") return true;
  return access === "key" && (caller === "user" || !authRequired);
}

/**
 * Walks each route's canonical path and its spellings as each caller. Which route the router
 * matched and what the hook decided come from the hook itself (authDecisions); the answer on the
 * wire must agree with it.
 */
async function walk(base: string, routes: readonly RouteAccess[], callers: Partial<Record<Caller, string | null>>, authRequired: boolean) {
  const table = server.hearth.app.routeTable();
  // A plugin's route "/" under a prefix is one route at "/docs" and "/docs/": compare without the slash.
  const same = (a: string | null, b: string) => a !== null && a.replace(/\/$/, "") === b.replace(/\/$/, "");
  const accessOf = (method: string, url: string | null) => url === null ? "key" : table.find((r) => r.method === method && same(url, r.url))?.access;
  const failures: string[] = [];
  let requests = 0;
  const check = async (route: RouteAccess, path: string, caller: Caller, sameRoute: boolean) => {
    const answer = await send(base, route.method, route.websocket, path, callers[caller]!);
    requests++;
    const what = `${route.method} ${path} as ${caller}`;
    // A URL the server refuses before routing it (it cannot be decoded) reaches nothing.
    if (answer.seen === undefined) {
      if (answer.status < 400) failures.push(`${what}: ${answer.status} without an auth decision`);
      return;
    }
    const { route: matched, allowed } = answer.seen;
    if (sameRoute && !same(matched, route.url)) failures.push(`${what}: matched ${matched}, not ${route.url}`);
    const access = accessOf(route.method, matched);
    if (access === undefined) return void failures.push(`${what}: matched ${matched}, which is not in the table`);
    if (allowed !== mayCall(access, caller, authRequired)) failures.push(`${what}: ${allowed ? "allowed" : "refused"} on ${matched ?? "no route"} (${access})`);
    const refusedOnWire = (answer.status === 401 || answer.status === 403) && (answer.code === null || AUTH_CODES.has(answer.code));
    if (refusedOnWire === allowed) failures.push(`${what}: answered ${answer.status} ${answer.code} though the hook ${allowed ? "allowed" : "refused"} it`);
  };
  for (const route of routes) {
    const path = concrete(route.url);
    for (const caller of Object.keys(callers) as Caller[]) {
      await check(route, path, caller, true);
      for (const p of sameRoute(path)) await check(route, p, caller, true);
      for (const p of otherSpellings(path)) await check(route, p, caller, false);
    }
  }
  return { failures, requests };
}
const AUTH_CODES = new Set(["missing_api_key", "invalid_api_key", "admin_required"]);

test("the route table declares who may call each route, deny by default", () => {
  const table = server.hearth.app.routeTable();
  const access = (method: string, url: string) => table.find((r) => r.method === method && r.url === url)?.access;
  assert.equal(access("GET", "/health"), "open");
  assert.equal(access("GET", "/v1/models"), "key");
  assert.equal(access("GET", "/slots"), "key", "llama-server's /slots shows what everyone's requests are doing");
  assert.equal(access("GET", "/metrics"), "key");
  assert.equal(access("GET", "/v1/chat/completions/ws"), "key");
  for (const [method, url] of [["GET", "/v1/admin/keys"], ["POST", "/v1/admin/keys"], ["DELETE", "/v1/admin/keys/:name"], ["POST", "/v1/models/pull"], ["POST", "/v1/models/:id/load"], ["POST", "/v1/models/:id/unload"]] as const) {
    assert.equal(access(method, url), "admin", `${method} ${url}`);
  }
  assert.ok(table.some((r) => r.websocket), "WebSocket routes are in the table");
});

test("every route under every spelling of its path, as every caller: the matched route's declaration decides", async () => {
  const { failures, requests } = await walk(server.url, server.hearth.app.routeTable(), keys, true);
  assert.ok(requests > 5000, `walked ${requests} requests`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${requests} requests decided wrongly`);
});

test("the reported bypasses are refused: percent-encoded letters reach the admin routes only with the admin key", async () => {
  for (const [method, path] of [["GET", "/%761/admin/keys"], ["GET", "/v1/%61dmin/keys"], ["POST", "/v1/models/x/%6coad"], ["GET", "/%6detrics"], ["POST", "/%74okenize"], ["GET", "/%761/usage"]] as const) {
    const none = await send(server.url, method, false, path, null);
    assert.deepEqual([none.status, none.code], [401, "missing_api_key"], `${method} ${path} without a key`);
  }
  for (const [method, path] of [["GET", "/v1/%61dmin/keys"], ["POST", "/v1/models/x/%6coad"], ["POST", "/%761/models/pull"]] as const) {
    const user = await send(server.url, method, false, path, keys.user);
    assert.deepEqual([user.status, user.code], [403, "admin_required"], `${method} ${path} with a user key`);
  }
  assert.equal((await send(server.url, "GET", false, "/%761/admin/keys", keys.admin)).status, 200);
  assert.equal((await send(server.url, "GET", true, "/%761/chat/completions/ws", null)).status, 401);
});

test("a path no route matches needs a key like any other, and answers 404 with one", async () => {
  assert.deepEqual([(await send(server.url, "GET", false, "/v2/nothing-here", null)).status], [401]);
  const user = await send(server.url, "GET", false, "/v2/nothing-here", keys.user);
  assert.deepEqual([user.status, user.code], [404, "not_found"]);
});

test("with auth off and an admin key set, admin routes still need it under every spelling", async () => {
  const open = await startServer({ fake: true, load: false, config: { auth: "none", admin_key: ADMIN } });
  try {
    const admin = open.hearth.app.routeTable().filter((r) => r.access === "admin");
    assert.ok(admin.length >= 6);
    const walked = await walk(open.url, admin, { none: null, admin: ADMIN }, false);
    assert.deepEqual(walked.failures.slice(0, 20), [], `${walked.failures.length} of ${walked.requests} decided wrongly`);
  } finally {
    await open.close();
  }
});
