import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { errors } from "../../errors.ts";
import { networkReason } from "./httpBody.ts";
import type { OpenedBody } from "./source.ts";

/** The source sent more bytes than it declared: the partial file is garbage. */
export class OverrunError extends Error {
  override name = "OverrunError";
}

/**
 * Writes `opened.body` into the partial file at `opened.start` and returns the whole file's size
 * and sha256 (a resumed prefix is hashed from disk first). A lost connection becomes a pull_failed
 * error that leaves the partial in place; file-system errors (ENOSPC) propagate as they are.
 */
export async function receive(partialPath: string, opened: OpenedBody, opts: {
  totalBytes: number | null;
  label: string;
  signal: AbortSignal | undefined;
  onBytes: (received: number) => void;
}): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  // O_NOFOLLOW: the partial is written only as itself, never through a link planted in its place.
  const flags = opened.start === 0 ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW : constants.O_RDWR | constants.O_NOFOLLOW;
  const fh = await open(partialPath, flags, 0o644);
  const it = opened.body[Symbol.asyncIterator]();
  let done = false;
  try {
    let position = opened.start;
    if (position > 0) {
      await fh.truncate(position);
      await hashPrefix(fh, position, hash);
    }
    opts.onBytes(position);
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await it.next();
      } catch (err) {
        done = true;
        if (opts.signal?.aborted) throw opts.signal.reason;
        const of = opts.totalBytes === null ? "" : ` of ${opts.totalBytes}`;
        throw errors.pullFailed(opts.label, `the connection was lost after ${position}${of} bytes (${networkReason(err)}); pull again to resume.`);
      }
      if (step.done) {
        done = true;
        break;
      }
      if (opts.signal?.aborted) throw opts.signal.reason;
      const chunk = step.value;
      if (opts.totalBytes !== null && position + chunk.length > opts.totalBytes) throw new OverrunError(`more than the ${opts.totalBytes} bytes declared`);
      hash.update(chunk);
      await writeAll(fh, chunk, position);
      position += chunk.length;
      opts.onBytes(position);
    }
    if (opts.signal?.aborted) throw opts.signal.reason;
    await fh.sync();
    return { bytes: position, sha256: hash.digest("hex") };
  } finally {
    if (!done) await it.return?.().catch(() => {});
    await fh.close();
  }
}

async function hashPrefix(fh: FileHandle, length: number, hash: Hash): Promise<void> {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let at = 0; at < length;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - at), at);
    if (bytesRead === 0) throw new Error("the partial file shrank while it was being resumed");
    hash.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
}

async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < chunk.length;) {
    const { bytesWritten } = await fh.write(chunk, written, chunk.length - written, position + written);
    written += bytesWritten;
  }
}
