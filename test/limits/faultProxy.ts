import { connect, createServer, type AddressInfo, type Socket } from "node:net";

export interface FaultProxy {
  port: number;
  /** Stops forwarding on open connections and never answers new ones, sockets left open (a hung Redis). */
  stall(): void;
  /** Forwards each chunk towards the service `ms` late (a slow Redis). */
  delay(ms: number): void;
  /** Forwards promptly again. */
  forward(): void;
  close(): Promise<void>;
}

/**
 * Faults test/helpers/tcpProxy.ts does not make: its blackhole() closes the open connections
 * first, so a client meets a hang only on a new connection. This one stalls connections that are
 * already established, or slows them.
 */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: { kind: "forward" } | { kind: "stall" } | { kind: "delay"; ms: number } = { kind: "forward" };
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("error", () => {});
      s.once("close", () => { open.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.on("data", (chunk) => {
      if (mode.kind === "forward") upstream.write(chunk);
      else if (mode.kind === "delay") setTimeout(() => upstream.write(chunk), mode.ms);
    });
    upstream.on("data", (chunk) => {
      if (mode.kind !== "stall") client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stall() { mode = { kind: "stall" }; },
    delay(ms) { mode = { kind: "delay", ms }; },
    forward() { mode = { kind: "forward" }; },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
