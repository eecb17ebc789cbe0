import type { Command } from "commander";
import { numberFlag } from "./numberFlag.ts";

export function registerMonitor(program: Command): void {
  program
    .command("monitor")
    .description("live terminal dashboard of a running Hearth: throughput, latency percentiles, slots, queue, models, errors")
    .option("--url <url>", "server base URL", "http://127.0.0.1:8000")
    .option("--interval <ms>", "refresh period", numberFlag("--interval", { min: 100, unit: " ms" }), 1000)
    .option("--api-key <key>", "a key, when the server requires one (default: HEARTH_ADMIN_KEY)")
    .action(async (flags: { url: string; interval: number; apiKey?: string }) => {
      // ink reads CI/CONTINUOUS_INTEGRATION once, when it loads, and then holds every frame until
      // exit: a dashboard in a terminal whose shell sets CI (CI runners, some dev containers) would
      // stay blank. A terminal on stdout means someone is watching, so the flag is dropped for ink.
      if (process.stdout.isTTY) {
        delete process.env.CI;
        delete process.env.CONTINUOUS_INTEGRATION;
      }
      // Loaded here, not at the top: `hearth serve` should not pay for React and ink.
      const [{ render }, { createElement }, { Monitor }] = await Promise.all([import("ink"), import("react"), import("../monitor/Monitor.ts")]);
      const apiKey = flags.apiKey ?? process.env.HEARTH_ADMIN_KEY;
      const app = render(createElement(Monitor, { url: flags.url, intervalMs: flags.interval, ...(apiKey ? { apiKey } : {}) }));
      await app.waitUntilExit();
    });
}
