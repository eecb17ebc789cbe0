import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, createServer as createTcpServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

/**
 * A real HTTP server on 127.0.0.1 for the pull tests: files with Range and If-Range support,
 * redirects (the hub's resolve URL to its "CDN"), and the failures a pull must survive: a
 * connection cut after some bytes, a stall, a server that ignores Range, a body without length.
 */
export type Route =
  | {
    kind: "file";
    body: Buffer;
    headers?: Record<string, string>;
    /** No Content-Length and no ranges: a chunked body whose size is not known beforehand. */
    chunked?: boolean;
    ignoreRange?: boolean;
    /** Cut the connection after this many body bytes, on the first `cuts` GETs (default 1). */
    cutAfter?: number;
    cuts?: number;
    /** Send this many body bytes, then nothing more until the client leaves. */
    stallAfter?: number;
    /** A Content-Length larger than the body (a server that lies about size, or a huge file). */
    claimLength?: number;
  }
  | { kind: "redirect"; to: string; status?: number; headers?: Record<string, string> }
  | { kind: "status"; status: number; headers?: Record<string, string> };

export interface SeenRequest {
  method: string;
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
  authorization: string | undefined;
}

export interface TestServer {
  url: string;
  port: number;
  routes: Map<string, Route>;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export async function startServer(routes: Record<string, Route> = {}): Promise<TestServer> {
  const table = new Map(Object.entries(routes));
  const requests: SeenRequest[] = [];
  const cutsDone = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const header = (name: string) => req.headers[name] as string | undefined;
    requests.push({ method: req.method ?? "GET", path, range: header("range"), ifRange: header("if-range"), authorization: header("authorization") });
    const route = table.get(path);
    if (!route) return void res.writeHead(404, { "content-type": "text/plain" }).end("Entry not found");
    if (route.kind === "status") return void res.writeHead(route.status, route.headers).end();
    if (route.kind === "redirect") return void res.writeHead(route.status ?? 302, { location: route.to, ...route.headers }).end();
    serveFile(req, res, route, path, cutsDone);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    routes: table,
    requests,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

function serveFile(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: "file" }>, path: string, cutsDone: Map<string, number>): void {
  const size = route.body.length;
  const headers: Record<string, string> = { "content-type": "application/octet-stream", ...route.headers };
  if (route.chunked) {
    res.writeHead(200, headers);
    if (req.method === "HEAD") return void res.end();
    return void res.end(route.body);
  }
  headers["accept-ranges"] = route.ignoreRange ? "none" : "bytes";
  let start = 0;
  let status = 200;
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
  const ifRange = req.headers["if-range"];
  const rangeValid = range && !route.ignoreRange && (ifRange === undefined || ifRange === route.headers?.etag);
  if (rangeValid) {
    start = Number(range[1]);
    if (start >= size) return void res.writeHead(416, { ...headers, "content-range": `bytes */${size}` }).end();
    status = 206;
    headers["content-range"] = `bytes ${start}-${size - 1}/${size}`;
  }
  headers["content-length"] = String(route.claimLength ?? size - start);
  res.writeHead(status, headers);
  if (req.method === "HEAD") return void res.end();
  const body = route.body.subarray(start);
  const done = cutsDone.get(path) ?? 0;
  if (route.cutAfter !== undefined && done < (route.cuts ?? 1)) {
    cutsDone.set(path, done + 1);
    res.write(body.subarray(0, route.cutAfter), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  if (route.stallAfter !== undefined) return void res.write(body.subarray(0, route.stallAfter));
  // A body shorter than its Content-Length would otherwise wait for the keep-alive timeout.
  if (route.claimLength !== undefined) return void res.end(body, () => res.socket?.destroy());
  res.end(body);
}

/**
 * A TCP proxy to 127.0.0.1:`targetPort` that cuts the first connection whose responses pass
 * `cutAfter` bytes, as a dropped network would; later connections pass untouched.
 */
export async function startCuttingProxy(targetPort: number, cutAfter: number): Promise<{ port: number; cuts: number; close(): Promise<void> }> {
  const state = { port: 0, cuts: 0, close: async () => {} };
  const server = createTcpServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    let sent = 0;
    let cut = false;
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (cut) return;
      if (state.cuts === 0 && sent + chunk.length > cutAfter) {
        state.cuts++;
        cut = true;
        upstream.pause();
        client.write(chunk.subarray(0, cutAfter - sent), () => setTimeout(() => { client.destroy(); upstream.destroy(); }, 20));
        return;
      }
      sent += chunk.length;
      client.write(chunk);
    });
    const end = () => { client.destroy(); upstream.destroy(); };
    upstream.on("error", end).on("close", end);
    client.on("error", end).on("close", end);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  state.port = (server.address() as AddressInfo).port;
  state.close = async () => {
    server.close();
    await once(server, "close");
  };
  return state;
}

/** A port nothing listens on (taken from the OS, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

/** A temp folder for one test file, removed after it; `fresh()` makes a new empty folder inside. */
export async function scratch(prefix: string): Promise<{ root: string; fresh: () => Promise<string> }> {
  const root = await mkdtemp(join(tmpdir(), `hearth-pull-${prefix}-`));
  after(() => rm(root, { recursive: true, force: true }));
  return { root, fresh: () => mkdtemp(join(root, "d-")) };
}
