import { connect, createServer, type AddressInfo, type Socket } from "node:net";

export interface TcpProxy {
  /** host:port clients connect to instead of the real service. */
  port: number;
  /** Cuts every open connection and refuses new ones (the service itself keeps running). */
  cut(): void;
  /** Accepts connections that hang: never answered, never closed (an unresponsive service). */
  blackhole(): void;
  /** Forwards again. */
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a real service (PostgreSQL, Redis), for fault tests: the machine's
 * services are never stopped; the proxy cuts or stalls the connections instead.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: "forward" | "cut" | "blackhole" = "forward";
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.once("close", () => open.delete(client));
    client.on("error", () => {});
    if (mode === "cut") return void client.destroy();
    if (mode === "blackhole") return;
    const upstream = connect(target.port, target.host);
    open.add(upstream);
    upstream.once("close", () => { open.delete(upstream); client.destroy(); });
    client.once("close", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      mode = "cut";
      for (const s of open) s.destroy();
    },
    blackhole() {
      mode = "blackhole";
      for (const s of open) s.destroy();
    },
    restore() { mode = "forward"; },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
