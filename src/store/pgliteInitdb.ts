/**
 * Creates an embedded database directory in a child process. PostgreSQL's initdb grows PGlite's
 * WebAssembly memory to about 450 MB, and WebAssembly memory never shrinks: run in the server it
 * would stay resident for the process's whole life (in a worker thread, about 230 MB of it still
 * did). A child's memory goes when it exits, and the server then opens the ready directory at
 * about 110 MB.
 */
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
export async function initdbInChild(dir: string): Promise<void> {
  await runInChild(import.meta.url, [dir], `creating the embedded database in ${dir}`);
}
