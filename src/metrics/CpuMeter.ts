import { availableParallelism } from "node:os";

/**
 * CPU use between two readings (each /health call), as a percentage of one core: the server
 * process itself, and the runners together (their CPU seconds as their snapshots report them).
 * A runner that restarts or unloads between readings makes its share read low once.
 */
export class CpuMeter {
  #last = { at: performance.now(), server: cpuSeconds(), runners: 0 };

  read(runnersCpuSeconds: number): { server_percent: number; runners_percent: number; cores: number; window_seconds: number } {
    const now = { at: performance.now(), server: cpuSeconds(), runners: runnersCpuSeconds };
    const seconds = Math.max(0.001, (now.at - this.#last.at) / 1000);
    const pct = (a: number, b: number) => Math.round((Math.max(0, a - b) / seconds) * 1000) / 10;
    const out = { server_percent: pct(now.server, this.#last.server), runners_percent: pct(now.runners, this.#last.runners), cores: availableParallelism(), window_seconds: Math.round(seconds * 10) / 10 };
    this.#last = now;
    return out;
  }
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
