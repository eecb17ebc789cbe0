import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { HearthError } from "../../src/errors.ts";
import { agentFetch } from "../../src/models/pull/agentFetch.ts";
import { addressClass } from "../../src/models/pull/addressClass.ts";
import { BlockedAddressError, guardedAgents } from "../../src/models/pull/guardedAgents.ts";
import { pullModel } from "../../src/models/pull/pullModel.ts";
import { startServer as startHearth } from "../helpers/server.ts";
import { listDir, scratch, startServer } from "./fixtures.ts";

/**
 * Pulls refuse hosts on loopback, private and other non-public addresses unless allowed: a client
 * of POST /v1/models/pull must not make the server fetch from its own network (a blind SSRF).
 * Every case also checks that no request reached the server behind the address.
 */
const files = await startServer({ "/m.gguf": { kind: "file", body: Buffer.from("GGUF") }, "/hub/o/r/resolve/main/m.gguf": { kind: "file", body: Buffer.from("GGUF") } });
after(() => files.close());
const { fresh } = await scratch("private");
const blocked = (cls?: string) => (e: unknown) => HearthError.is(e) && e.code === "source_address_blocked" && e.statusCode === 400 && e.param === "source" && (cls === undefined || e.message.includes(`a ${cls} address`));

test("loopback, IPv6 loopback, mapped IPv4, private and link-local literals are refused before any connection", async () => {
  const cases: [string, string][] = [
    [`${files.url}/m.gguf`, "loopback"],
    [`http://[::1]:${files.port}/m.gguf`, "loopback"],
    [`http://[::ffff:127.0.0.1]:${files.port}/m.gguf`, "loopback"],
    ["http://10.0.0.1/m.gguf", "private"],
    ["http://192.168.1.1/m.gguf", "private"],
    ["http://169.254.169.254/latest/m.gguf", "link-local"],
    ["http://0.0.0.0/m.gguf", "unspecified"],
    ["https://[fd00::1]/m.gguf", "unique-local"],
  ];
  for (const [source, cls] of cases) {
    const dir = await fresh();
    await assert.rejects(pullModel(source, { modelsDir: dir }), blocked(cls), source);
    assert.deepEqual(await listDir(dir), [], source);
  }
  assert.equal(files.requests.length, 0);
});

test("a host name that resolves to loopback is refused when it is resolved, for URLs, a hub mirror and an S3 endpoint", async () => {
  const local = `http://localhost:${files.port}`;
  await assert.rejects(pullModel(`${local}/m.gguf`, { modelsDir: await fresh() }), blocked("loopback"));
  await assert.rejects(pullModel("hf:o/r/m.gguf", { modelsDir: await fresh(), hfEndpoint: `${local}/hub` }), blocked("loopback"));
  await assert.rejects(pullModel("hf:o/r/m.gguf", { modelsDir: await fresh(), hfEndpoint: files.url }), blocked("loopback"));
  const env = { AWS_ENDPOINT_URL: local, AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "us-east-1" };
  await assert.rejects(pullModel("s3://models/m.gguf", { modelsDir: await fresh(), env }), blocked("loopback"));
  await assert.rejects(pullModel("s3://models/m.gguf", { modelsDir: await fresh(), env: { ...env, AWS_ENDPOINT_URL: files.url } }), blocked("loopback"));
  assert.equal(files.requests.length, 0);
});

test("allowPrivateAddresses lets a pull reach a loopback server", async () => {
  await assert.rejects(pullModel(`${files.url}/m.gguf`, { modelsDir: await fresh(), allowPrivateAddresses: true }), (e: unknown) => HearthError.is(e) && e.code === "invalid_model_file");
  assert.equal(files.requests.length, 1);
});

test("a redirect from an allowed host to a refused address is refused at that hop", async () => {
  // 127.0.0.2 is the "internal" server; 127.0.0.1 plays a public host that redirects to it.
  let internalHits = 0;
  const internal = createServer((_req, res) => { internalHits++; res.end("secret"); }).listen(0, "127.0.0.2");
  await once(internal, "listening");
  after(() => internal.close());
  const target = `http://127.0.0.2:${(internal.address() as AddressInfo).port}/openapi.json`;
  files.routes.set("/bounce", { kind: "redirect", to: target });
  const agents = guardedAgents((ip) => (ip === "127.0.0.1" ? null : addressClass(ip)));
  const bounce = agentFetch(`${files.url}/bounce`, { method: "GET", headers: {}, signal: undefined, redirect: "follow", agents });
  await assert.rejects(bounce, (e: unknown) => e instanceof BlockedAddressError && e.addressClass === "loopback");
  assert.equal(internalHits, 0);
  assert.ok(files.requests.some((r) => r.path === "/bounce"), "the first hop was allowed");
});

test("POST /v1/models/pull refuses a loopback source by default with a 400, before sending anything", { timeout: 60_000 }, async () => {
  const hearth = await startHearth({ modelPath: null, load: false });
  after(() => hearth.close());
  const seen = files.requests.length;
  const pull = (body: object) => fetch(`${hearth.url}/v1/models/pull`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const literal = await pull({ source: `${files.url}/openapi.json`, name: "stolen" });
  assert.equal(literal.status, 400);
  assert.equal(((await literal.json()) as { error: { code: string } }).error.code, "source_address_blocked");
  const named = await pull({ source: `http://localhost:${files.port}/openapi.json`, name: "stolen", stream: false });
  assert.equal(named.status, 400);
  const body = (await named.json()) as { error: { code: string; type: string; param: string; message: string } };
  assert.deepEqual([body.error.code, body.error.type, body.error.param], ["source_address_blocked", "invalid_request_error", "source"]);
  assert.match(body.error.message, /loopback address/);
  const streamed = await (await pull({ source: `http://localhost:${files.port}/openapi.json`, name: "stolen" })).text();
  assert.match(streamed, /event: error\ndata: .*"code":"source_address_blocked"/);
  assert.equal(files.requests.length, seen, "no request reached the loopback server");
});
