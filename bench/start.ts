/**
 * Start time: `hearth serve` with the built-in demo model, from spawning the process to its model
 * being ready, `--runs` times on one data folder (the first run is a first start: a new folder,
 * the database created), then each run warm.
 *
 *   node bench/start.ts [--runs 4]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startHearth } from "./hearthProcess.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "4" } } });
const dir = await mkdtemp(join(tmpdir(), "hearth-start-bench-"));
try {
  for (let i = 0; i < Number(values.runs); i++) {
    const { child, readyMs } = await startHearth(["--data-dir", dir]);
    console.log(`${i === 0 ? "first start" : "warm start "}: ${(readyMs / 1000).toFixed(2)} s to the model ready`);
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
