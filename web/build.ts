/**
 * Builds the browser app into web/dist with Vite, then measures what a browser downloads: each JS
 * file's gzipped size and the total. Exits non-zero when the total is over the budget, so the build
 * (and `npm install`, whose `prepare` runs it) fails instead of shipping a heavier app.
 *
 *   node web/build.ts            build and check
 *   node web/build.ts --check    only measure an existing build
 *   --budget-kb N                another budget (the test of the check uses a tiny one)
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/** The budget for all JavaScript, gzipped. */
export const JS_BUDGET_BYTES = 150 * 1024;
const here = import.meta.dirname;
export const distDir = join(here, "dist");

export interface JsSize { file: string; bytes: number; gzipBytes: number }

/** Every JS file under web/dist/assets with its raw and gzipped (level 9) size. */
export async function measureJs(dir = join(distDir, "assets")): Promise<{ files: JsSize[]; totalGzip: number }> {
  const files: JsSize[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith(".js")).sort()) {
    const body = await readFile(join(dir, name));
    files.push({ file: `assets/${name}`, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length });
  }
  return { files, totalGzip: files.reduce((n, f) => n + f.gzipBytes, 0) };
}

export async function buildWeb(): Promise<void> {
  const { build } = await import("vite");
  await build({ configFile: join(here, "vite.config.ts"), logLevel: "warn" });
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = args.indexOf("--budget-kb");
  const budget = flag >= 0 ? Number(args[flag + 1]) * 1024 : JS_BUDGET_BYTES;
  if (!args.includes("--check")) await buildWeb();
  const { files, totalGzip } = await measureJs();
  for (const f of files) console.log(`${f.file.padEnd(40)} ${kb(f.bytes).padStart(10)}  gzip ${kb(f.gzipBytes).padStart(9)}`);
  console.log(`JS total, gzipped: ${kb(totalGzip)} (budget ${kb(budget)})`);
  if (!(totalGzip <= budget)) {
    console.error(`web: the JavaScript is over budget by ${kb(totalGzip - budget)}`);
    process.exitCode = 1;
  }
}

if (import.meta.main) await main();
