import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import { startServer, type TestServer } from "../helpers/server.ts";

/** A loopback server, as by default, that lets one web origin call it from a browser. */
const APP_ORIGIN = "https://app.example";
let server: TestServer;
before(async () => { server = await startServer({ fake: true, config: { cors_origins: [APP_ORIGIN], web_dir: join(tmpdir(), "hearth-no-web-build-here") } }); });
after(() => server.close());

/** A raw HTTP request, so that Host can be anything. */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => { text += c; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
const codeOf = (body: string) => (JSON.parse(body) as { error?: { code: string; type: string; message: string; param: string | null } }).error;
const steps = async () => ((await (await fetch(`${server.url}/v1/slots`)).json()) as { models: { steps: { count: number } }[] }).models.reduce((n, m) => n + m.steps.count, 0);
const chat = JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });

test("a Host that is not a loopback name is refused on a loopback server (DNS rebinding)", async () => {
  const evil = await raw("GET", "/v1/models", { host: "evil.example:8000" });
  assert.equal(evil.status, 403);
  assert.deepEqual(codeOf(evil.body), { code: "host_not_allowed", type: "permission_error", message: codeOf(evil.body)!.message, param: null });
  for (const host of ["localhost:1234", "127.0.0.1", "app.localhost", "[::1]:80"]) {
    assert.equal((await raw("GET", "/v1/models", { host })).status, 200, host);
  }
});

test("a text/plain POST from another origin is refused before anything is generated", async () => {
  const before = await steps();
  const res = await raw("POST", "/v1/chat/completions", { host: new URL(server.url).host, origin: "https://evil.example", "content-type": "text/plain" }, chat);
  assert.equal(res.status, 403);
  assert.equal(codeOf(res.body)?.code, "origin_not_allowed");
  const fetchSite = await raw("POST", "/v1/admin/keys", { host: new URL(server.url).host, "sec-fetch-site": "cross-site", "content-type": "text/plain" }, JSON.stringify({ name: "x" }));
  assert.equal(fetchSite.status, 403, "Sec-Fetch-Site: cross-site counts as another origin");
  assert.equal(await steps(), before, "no generation step ran");
  // Reading is allowed (a page cannot read the answer without CORS headers), except admin routes.
  const read = await raw("GET", "/v1/models", { host: new URL(server.url).host, origin: "https://evil.example" });
  assert.equal(read.status, 200);
  assert.equal(read.headers["access-control-allow-origin"], undefined);
  assert.equal((await raw("GET", "/v1/admin/keys", { host: new URL(server.url).host, origin: "https://evil.example" })).status, 403);
});

test("the same origin, a configured CORS origin and clients without Origin are served", async () => {
  const same = await raw("POST", "/v1/chat/completions", { host: new URL(server.url).host, origin: server.url, "content-type": "application/json" }, chat);
  assert.equal(same.status, 200);
  assert.equal(same.headers["x-content-type-options"], "nosniff");
  const listed = await raw("POST", "/v1/chat/completions", { host: new URL(server.url).host, origin: APP_ORIGIN, "content-type": "application/json" }, chat);
  assert.equal(listed.status, 200);
  assert.equal(listed.headers["access-control-allow-origin"], APP_ORIGIN);
  const preflight = await raw("OPTIONS", "/v1/chat/completions", { host: new URL(server.url).host, origin: APP_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers["access-control-allow-origin"], APP_ORIGIN);
  assert.match(String(preflight.headers["access-control-allow-methods"]), /POST/);
  assert.match(String(preflight.headers["access-control-allow-headers"]), /authorization/);
  const sdk = await server.client.chat.completions.create({ model: server.model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
  assert.equal(sdk.object, "chat.completion");
});

function upgrade(origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.url.replace(/^http/, "ws") + "/v1/chat/completions/ws", { origin });
    ws.once("open", () => { resolve(101); ws.close(); });
    ws.once("unexpected-response", (req, res) => { resolve(res.statusCode ?? 0); req.destroy(); });
    ws.once("error", reject);
  });
}

test("a WebSocket upgrade from another origin is refused (cross-site WebSocket hijacking)", async () => {
  assert.equal(await upgrade("https://evil.example"), 403);
  assert.equal(await upgrade(server.url), 101);
  assert.equal(await upgrade(APP_ORIGIN), 101);
});

test("/docs is Swagger UI under a Content-Security-Policy; the OpenAPI document leaves out the aliases", async () => {
  const res = await fetch(`${server.url}/docs`, { headers: { accept: "text/html" } });
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/html/);
  assert.match(html, /swagger/i);
  assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  assert.ok("/v1/chat/completions" in doc.paths && "/v1/conversations" in doc.paths);
  for (const alias of ["/chat/completions", "/models", "/chat/stream", "/v1/chat/completions/ws"]) assert.ok(!(alias in doc.paths), alias);
});

test("without a web build, / and the app's pages say how to build it; /models still answers API clients", async () => {
  const home = await fetch(`${server.url}/`, { headers: { accept: "text/html" } });
  assert.equal(home.status, 200);
  assert.match(await home.text(), /npm run build:web/);
  assert.match(home.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  assert.equal(home.headers.get("referrer-policy"), "no-referrer");
  assert.match(await (await fetch(`${server.url}/chat/some-id`, { headers: { accept: "text/html" } })).text(), /npm run build:web/);
  const models = (await (await fetch(`${server.url}/models`)).json()) as { data: { id: string }[] };
  assert.ok(models.data.some((m) => m.id === server.model));
});

test("with a web build, / serves it, assets are cached for good, index.html never, and app paths fall back to it", async () => {
  const dist = await mkdtemp(join(tmpdir(), "hearth-web-"));
  await mkdir(join(dist, "assets"));
  await writeFile(join(dist, "index.html"), "<!doctype html><title>Hearth app</title><script type=module src=/assets/app-1a2b3c.js></script>");
  await writeFile(join(dist, "assets", "app-1a2b3c.js"), "console.log('app')");
  const web = await startServer({ fake: true, load: false, config: { web_dir: dist } });
  try {
    const home = await fetch(`${web.url}/`, { headers: { accept: "text/html" } });
    assert.match(await home.text(), /Hearth app/);
    assert.equal(home.headers.get("cache-control"), "no-cache");
    assert.match(home.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    const asset = await fetch(`${web.url}/assets/app-1a2b3c.js`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get("cache-control") ?? "", /max-age=31536000, immutable/);
    for (const path of ["/chat", "/conversations/conv_1", "/dashboard", "/models"]) {
      const page = await fetch(`${web.url}${path}`, { headers: { accept: "text/html,application/xhtml+xml" } });
      assert.equal(page.status, 200, path);
      assert.match(await page.text(), /Hearth app/, path);
    }
    assert.equal((await fetch(`${web.url}/assets/missing.js`)).status, 404);
  } finally {
    await web.close();
    await rm(dist, { recursive: true, force: true });
  }
});
