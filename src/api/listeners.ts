import { once } from "node:events";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { clientError } from "./errorHandler.ts";

/** Set on each request that came in on a second listener, to its name (the Ollama port's is `ollama`). */
const LISTENER = Symbol("hearth.listener");
type Marked = IncomingMessage & { [LISTENER]?: string };

/** The listener a request came in on; undefined for Hearth's own port. */
export const listenerOf = (req: IncomingMessage): string | undefined => (req as Marked)[LISTENER];

/**
 * A route constraint, `constraints: { listener: "ollama" }`: the route answers only requests that
 * came in on that listener; the same path on other listeners goes to the unconstrained route (GET /
 * is "Ollama is running" on the Ollama port and the web app on Hearth's).
 */
export const listenerConstraint: Strategy = {
  name: "listener",
  storage() {
    const byListener = new Map<unknown, Handler>();
    return { get: (listener) => byListener.get(listener) ?? null, set: (listener, handler) => { byListener.set(listener, handler); } };
  },
  // Undefined (Hearth's own port) derives no value: the request matches unconstrained routes only.
  deriveConstraint: (req) => listenerOf(req as IncomingMessage) as string,
  validate(value) {
    if (typeof value !== "string") throw new Error("a listener constraint is the listener's name");
  },
  mustMatchWhenDerived: false,
};
type Strategy = NonNullable<NonNullable<FastifyServerOptions["routerOptions"]>["constraints"]>[string];
type Handler = NonNullable<ReturnType<ReturnType<Strategy["storage"]>["get"]>>;

export interface ListenerOptions {
  name: string;
  host: string;
  port: number;
  /** Node's server options the app's own server has (timeouts), so that both listeners treat slow clients alike. */
  server: { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number; connectionsCheckingInterval: number };
  connectionTimeoutMs: number;
  https?: { cert: string | Buffer; key: string | Buffer };
}

export interface Listener {
  url: string;
  /** Stops accepting connections and closes idle ones; requests under way finish. */
  stop(): void;
  /** Closes every connection left and resolves once the server closed. */
  close(): Promise<void>;
}

/**
 * Another port for the same Fastify app: its requests go through `app.routing`, so every hook
 * (the browser guard, auth, the request record, the usage log) and every route apply to them as to
 * those of the app's own port. The app must be ready.
 */
export async function openListener(app: FastifyInstance, opts: ListenerOptions): Promise<Listener> {
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    (req as Marked)[LISTENER] = opts.name;
    app.routing(req, res);
  };
  const server: Server = opts.https ? createHttpsServer({ ...opts.server, ...opts.https }, handle) : createHttpServer(opts.server, handle);
  server.on("clientError", clientError);
  if (opts.connectionTimeoutMs > 0) server.setTimeout(opts.connectionTimeoutMs);
  server.listen(opts.port, opts.host);
  await Promise.race([once(server, "listening"), once(server, "error").then(([err]) => { throw err; })]);
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  let closed: Promise<void> | null = null;
  const stop = () => {
    closed ??= new Promise((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
  };
  return {
    url: `${opts.https ? "https" : "http"}://${host === "[::1]" ? "localhost" : host}:${port}`,
    stop,
    async close() {
      stop();
      server.closeAllConnections();
      await closed;
    },
  };
}
