import { createReadStream } from "node:fs";
import { access, constants, stat } from "node:fs/promises";
import { basename } from "node:path";
import { errors } from "../../errors.ts";
import type { ModelSource, SourceFacts } from "./source.ts";

/** A file on this machine, copied through the same temp file, checks and rename as a download. */
export function localSource(path: string): ModelSource {
  const label = basename(path);
  let facts: SourceFacts | null = null;
  return {
    label,
    identity: `file:${path}`,
    nameSegment: label || null,
    nameSegmentEncoded: false,
    sha256: null,
    async probe() {
      let size: number;
      let mtimeMs: number;
      try {
        const s = await stat(path);
        if (!s.isFile()) throw errors.invalidModelSource(`the local path '${label}' is not a regular file.`);
        await access(path, constants.R_OK);
        ({ size, mtimeMs } = s);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") throw errors.modelSourceNotFound(label);
        if (code === "EACCES" || code === "EPERM") throw errors.invalidModelSource(`the local file '${label}' cannot be read.`);
        throw err;
      }
      facts = { sha256: null, totalBytes: size, version: `${size}:${mtimeMs}` };
      return facts;
    },
    async open(offset) {
      const stream = createReadStream(path, { start: offset, highWaterMark: 1 << 20 });
      return { start: offset, totalBytes: facts?.totalBytes ?? null, version: facts?.version ?? null, body: stream, cancel: async () => { stream.destroy(); } };
    },
  };
}
