/**
 * HTTPS with --tls-cert / --tls-key (tls.cert, tls.key), and `.env` files read at start.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createHearth } from "../../src/cli/serve.ts";
import { loadDotEnv } from "../../src/config/dotenv.ts";
import { ConfigError, resolveConfig } from "../../src/config/loadConfig.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const root = join(import.meta.dirname, "../..");
const hasOpenssl = spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;

/** GET over HTTPS trusting only `ca`. */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => { body += c; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("TLS", { skip: hasOpenssl ? false : "openssl is not installed" }, () => {
  let dir: string;
  let server: TestServer;
  let ca: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hearth-tls-"));
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout", join(dir, "tls.key"), "-out", join(dir, "tls.crt"),
    ], { stdio: "ignore" });
    ca = await readFile(join(dir, "tls.crt"));
    server = await startServer({ fake: true, load: false, config: { host: "127.0.0.1", tls: { cert: join(dir, "tls.crt"), key: join(dir, "tls.key") } } });
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves HTTPS with the certificate; a client trusting it gets answers", async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const models = await httpsGet(`${server.url}/v1/models`, ca);
    assert.equal(models.status, 200);
    assert.equal((JSON.parse(models.body) as { object: string }).object, "list");
    const health = await httpsGet(`${server.url}/health`, ca);
    assert.ok([200, 503].includes(health.status));
  });

  it("a client that does not trust the certificate is refused", async () => {
    await assert.rejects(httpsGet(`${server.url}/health`, Buffer.from("")), (err: NodeJS.ErrnoException) => /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/.test(err.code ?? err.message));
  });

  it("plain HTTP to the HTTPS port gets no answer from the API", async () => {
    const res = await fetch(server.url.replace("https:", "http:") + "/health").then((r) => r.status, () => "refused");
    assert.notEqual(res, 200);
  });

  it("a certificate without its key, or a missing file, is a config error before anything starts", async () => {
    await assert.rejects(createHearth(resolveConfig({ tls: { cert: join(dir, "tls.crt") } }), () => {}), (err: Error) => err instanceof ConfigError && /tls\.key/.test(err.message));
    await assert.rejects(createHearth(resolveConfig({ tls: { cert: join(dir, "nope.crt"), key: join(dir, "tls.key") } }), () => {}), (err: Error) => err instanceof ConfigError && /ENOENT/.test(err.message));
  });

  it("--tls-cert and --tls-key are flags and HEARTH_TLS_* variables", async () => {
    const { configOptions } = await import("../../src/config/options.ts");
    const tls = configOptions.filter((o) => o.path[0] === "tls").map((o) => [o.flag, o.env]);
    assert.deepEqual(tls, [["tls-cert", "HEARTH_TLS_CERT"], ["tls-key", "HEARTH_TLS_KEY"]]);
  });
});

describe(".env files", () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), "hearth-dotenv-")); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it("sets the variables that are not set, never overriding one that is", async () => {
    const file = join(dir, ".env");
    await writeFile(file, "# a comment\nHEARTH_PORT=9001\nHEARTH_AUTH=required\nexport REDIS_URL=\"redis://cache:6379\"\nEMPTY=\n");
    const env: NodeJS.ProcessEnv = { HEARTH_AUTH: "none", EMPTY: "kept" };
    const set = loadDotEnv(file, env);
    assert.deepEqual(set.sort(), ["HEARTH_PORT", "REDIS_URL"]);
    assert.equal(env.HEARTH_PORT, "9001");
    assert.equal(env.HEARTH_AUTH, "none", "the real environment wins");
    assert.equal(env.REDIS_URL, "redis://cache:6379");
    assert.equal(env.EMPTY, "kept");
  });

  it("a missing file is no error", () => {
    const env: NodeJS.ProcessEnv = {};
    assert.deepEqual(loadDotEnv(join(dir, "absent.env"), env), []);
    assert.deepEqual(env, {});
  });

  it("`hearth serve` reads .env from its working directory at start", async () => {
    // A bad value in .env makes serve stop at once, naming the setting: it was read.
    await writeFile(join(dir, ".env"), "HEARTH_LOG_LEVEL=shouty\n");
    const env = { ...process.env };
    delete env.HEARTH_LOG_LEVEL;
    const run = spawnSync(process.execPath, [join(root, "bin/hearth.js"), "serve"], { cwd: dir, env, encoding: "utf8", timeout: 60_000 });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /log_level/);
    // The real environment wins over the file: its good log level stands, and the next bad setting is named.
    const real = spawnSync(process.execPath, [join(root, "bin/hearth.js"), "serve"], { cwd: dir, env: { ...env, HEARTH_LOG_LEVEL: "info", HEARTH_AUTH: "bogus" }, encoding: "utf8", timeout: 60_000 });
    assert.equal(real.status, 1, real.stdout + real.stderr);
    assert.match(real.stderr, /'auth'/);
    assert.doesNotMatch(real.stderr, /log_level/);
  });
});
