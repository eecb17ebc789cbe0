/**
 * `npm run test:fuzz -- --count 20000 [--seed 7]`: the HTTP fuzz test (test/fuzz/http-fuzz.test.ts)
 * with more cases than CI runs, for docs/benchmarks.md. Exits with the test's status.
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { count: { type: "string", default: "20000" }, seed: { type: "string", default: "1" } } });
for (const [name, v] of Object.entries(values)) {
  if (!/^\d+$/.test(v)) throw new Error(`--${name} must be a whole number, not '${v}'`);
}
const started = performance.now();
const run = spawnSync(process.execPath, ["--test", "test/fuzz/http-fuzz.test.ts"], {
  stdio: "inherit",
  env: { ...process.env, HEARTH_FUZZ_COUNT: values.count, HEARTH_FUZZ_SEED: values.seed },
});
console.log(`test:fuzz: ${values.count} cases, seed ${values.seed}, ${((performance.now() - started) / 1000).toFixed(0)} s in all`);
process.exit(run.status ?? 1);
