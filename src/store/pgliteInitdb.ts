/**
 * Creates embedded database directories. PostgreSQL's initdb grows PGlite's WebAssembly memory to
 * about 450 MB, and WebAssembly memory never shrinks: run in the server it would stay resident for
 * the process's whole life (in a worker thread, about 230 MB of it still did). It runs in a child,
 * whose memory goes when it exits; the server then opens the ready directory at about 110 MB.
 *
 * initdb takes seconds (3 to 7 on 2 CPUs) and makes the same 39 MB every time, so it runs once per
 * machine and PGlite version, into a template in the cache folder; a new data folder gets a copy,
 * which takes tens of milliseconds.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { cp, mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { childMain, runInChild } from "../util/childProcess.ts";

/**
 * Keys, a usage log and conversations need little of Postgres's default 128 MB of buffers: 16 MB
 * keeps about 100 MB out of the server's resident memory.
 */
export const pgliteConf = ["shared_buffers = 16MB"];

if (import.meta.main) {
  await childMain(async () => {
    const { PGlite } = await import("@electric-sql/pglite");
    const db = await PGlite.create({ dataDir: process.argv[2]!, postgresqlconf: pgliteConf });
    await db.close();
  });
}

/** Runs initdb for `dir` in a child process; resolves when the directory holds a closed, ready database. */
async function initdbInChild(dir: string): Promise<void> {
  await runInChild(import.meta.url, [dir], `creating the embedded database in ${dir}`);
}

/**
 * Makes `dir` (missing or empty) a new database: a copy of the template kept under `cache`, made
 * first if there is none. Where the template cannot be kept (a read-only cache folder), initdb
 * runs in `dir` itself.
 */
export async function createDatabaseDir(dir: string, cache: string, log?: (message: string) => void): Promise<void> {
  let template: string;
  try {
    template = await ensureTemplate(cache);
  } catch (err) {
    log?.(`no database template in ${cache} (${(err as Error).message}): creating the database from scratch`);
    await initdbInChild(dir);
    return;
  }
  // Copied beside, then moved in: a copy cut short never looks like a database.
  const partial = `${dir}.copying-${randomBytes(4).toString("hex")}`;
  try {
    await cp(template, partial, { recursive: true });
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** The template for this PGlite and configuration, made once; concurrent makers each make one and the first to finish wins. */
async function ensureTemplate(cache: string): Promise<string> {
  const template = join(cache, `pglite-template-${templateKey()}`);
  if (await isDatabase(template)) return template;
  await mkdir(cache, { recursive: true });
  const partial = `${template}.${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await initdbInChild(partial);
    await rename(partial, template).catch(async (err: NodeJS.ErrnoException) => {
      if (!(await isDatabase(template))) throw err;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return template;
}

const isDatabase = (dir: string) => stat(join(dir, "PG_VERSION")).then(() => true, () => false);

/** PGlite's version and the configuration: a template made by another version or setting is not used. */
function templateKey(): string {
  const entry = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
  const { version } = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")) as { version: string };
  return `${version}-${createHash("sha256").update(pgliteConf.join("\n")).digest("hex").slice(0, 8)}`;
}
