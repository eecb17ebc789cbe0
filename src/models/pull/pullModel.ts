import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { errors, HearthError } from "../../errors.ts";
import { checkGgufFile, GgufFileError } from "../gguf/checkGgufFile.ts";
import { checkChosenName, modelIdOf, nameFromSource } from "./modelName.ts";
import { parseSource, type SourceContext } from "./parseSource.ts";
import { existingSha256, existingSize, placeFile } from "./placeFile.ts";
import { ProgressReporter } from "./progress.ts";
import { OverrunError, receive } from "./receive.ts";
import type { ModelSource } from "./source.ts";
import { acquireLock, freeBytes, readMeta, regularFileSize, removeQuietly, tempPaths, writeMeta } from "./tempFiles.ts";
import type { PullOptions, PullProgress, PullResult } from "./types.ts";

export type { PullOptions, PullProgress, PullResult };

/**
 * Pulls a GGUF model into the models folder: `https://...`/`http://...` URLs (`#sha256=<hex>` to
 * declare a digest), Hugging Face files (`hf:owner/repo[:rev]/file.gguf`, see hfSource.ts; the
 * endpoint from `hfEndpoint`, else HF_ENDPOINT), `s3://bucket/key` (see s3Source.ts), and local
 * paths or `file:` URLs (unless `allowLocal` is false).
 *
 * The bytes go to `.NAME.partial` in the folder and reach NAME only after every check passed:
 * the size the source declared, the sha256 it declared (the hub's X-Linked-Etag, an S3 SHA256
 * checksum, `#sha256=`), and the GGUF header. An interrupted pull (lost connection, abort) keeps
 * the partial and the next pull of the same source and name resumes it with a range request; a
 * corrupt result (wrong digest, not GGUF, more bytes than declared) and a full disk delete it.
 *
 * An existing NAME is never replaced. When it holds the same bytes the pull succeeds with
 * `alreadyPresent: true`: checked before any transfer when the source declares a sha256, else
 * after the download. When the source declares a digest or size that differs, it fails with 409
 * model_exists before transferring anything.
 *
 * Errors are HearthErrors (see the "Model pull" block of src/errors.ts), except an abort, which
 * rejects with the signal's reason.
 */
export async function pullModel(source: string, opts: PullOptions): Promise<PullResult> {
  const src = parseSource(source, sourceContext(opts));
  try {
    const name = opts.name !== undefined ? checkChosenName(opts.name) : derivedName(src);
    const dir = resolve(opts.modelsDir);
    const release = await mkdir(dir, { recursive: true })
      .then(() => acquireLock(tempPaths(dir, name).lock, name))
      .catch(async (err: unknown) => { throw await classify(err, { name, label: src.label, removeTemp: async () => {} }); });
    const progress = new ProgressReporter({ source: src.label, id: modelIdOf(name) }, opts.onProgress);
    try {
      return await pullLocked(src, dir, name, opts, progress);
    } finally {
      progress.stop();
      await release();
    }
  } finally {
    src.close?.();
  }
}

/**
 * The file name and model id a pull of `source` would write, checked as pullModel checks them,
 * without any I/O: for a caller that shows or reserves the model before the transfer starts.
 */
export function pullTarget(source: string, opts: Pick<PullOptions, "name" | "env" | "hfEndpoint" | "allowLocal" | "allowPrivateAddresses" | "cwd"> = {}): { name: string; id: string } {
  const src = parseSource(source, sourceContext(opts));
  try {
    const name = opts.name !== undefined ? checkChosenName(opts.name) : derivedName(src);
    return { name, id: modelIdOf(name) };
  } finally {
    src.close?.();
  }
}

function sourceContext(opts: Pick<PullOptions, "env" | "hfEndpoint" | "allowLocal" | "allowPrivateAddresses" | "cwd">): SourceContext {
  return {
    env: opts.env ?? process.env, hfEndpoint: opts.hfEndpoint, allowLocal: opts.allowLocal ?? true,
    allowPrivateAddresses: opts.allowPrivateAddresses ?? false, cwd: opts.cwd ?? process.cwd(),
  };
}

function derivedName(src: ModelSource): string {
  if (!src.nameSegment) throw errors.invalidModelSource("it names no file; pass a name.");
  return nameFromSource(src.nameSegment, src.nameSegmentEncoded);
}

async function pullLocked(src: ModelSource, dir: string, name: string, opts: PullOptions, progress: ProgressReporter): Promise<PullResult> {
  const id = modelIdOf(name);
  const finalPath = join(dir, name);
  const temp = tempPaths(dir, name);
  const removeTemp = () => removeQuietly(temp.partial, temp.meta);
  const signal = opts.signal;
  const result = (sizeBytes: number, sha256: string, resumedFromBytes: number, alreadyPresent: boolean, verified: PullResult["verified"]): PullResult => {
    progress.phase("done", sizeBytes, sizeBytes);
    return { id, path: finalPath, sizeBytes, sha256, resumedFromBytes, alreadyPresent, verified };
  };

  progress.phase("connecting", 0, null);
  if (signal?.aborted) throw signal.reason;
  const facts = await src.probe(signal);
  const expectedSha = src.sha256 ?? facts.sha256;
  if (expectedSha !== null) {
    const existing = await existingSha256(finalPath);
    if (existing === expectedSha) {
      await removeTemp();
      return result((await existingSize(finalPath))!, existing, 0, true, "sha256");
    }
    if (existing !== null) throw errors.modelExists(name);
  }

  const meta = await readMeta(temp.meta);
  const partialSize = await regularFileSize(temp.partial);
  const resumable = partialSize !== null && partialSize > 0 && meta !== null && meta.identity === src.identity &&
    (facts.version === null || meta.version === facts.version) && (facts.totalBytes === null || partialSize <= facts.totalBytes);
  const offset = resumable ? partialSize : 0;
  const opened = await src.open(offset, resumable ? meta.version : null, signal);

  let received: { bytes: number; sha256: string };
  const totalBytes = facts.totalBytes ?? opened.totalBytes;
  try {
    if (facts.totalBytes !== null && opened.totalBytes !== null && facts.totalBytes !== opened.totalBytes) {
      throw errors.pullFailed(src.label, "the source's size changed during the pull; pull again.");
    }
    if (expectedSha === null && totalBytes !== null) {
      const size = await existingSize(finalPath);
      if (size !== null && size !== totalBytes) throw errors.modelExists(name);
    }
    if (totalBytes !== null) {
      const needed = totalBytes - opened.start;
      // A partial that is about to be overwritten frees its space.
      const free = await freeBytes(dir).then((n) => n === null ? null : n + (opened.start === 0 ? partialSize ?? 0 : 0));
      if (free !== null && needed > free) {
        await removeTemp();
        throw errors.insufficientStorage(name, needed);
      }
    }
    await writeMeta(temp.meta, { identity: src.identity, version: facts.version ?? opened.version, sha256: expectedSha, totalBytes });
    received = await receive(temp.partial, opened, {
      totalBytes,
      label: src.label,
      signal,
      onBytes: (bytes) => progress.bytes(bytes, totalBytes),
    });
  } catch (err) {
    await opened.cancel().catch(() => {});
    throw await classify(err, { name, label: src.label, removeTemp });
  }

  if (totalBytes !== null && received.bytes < totalBytes) {
    throw errors.pullFailed(src.label, `the source ended after ${received.bytes} of ${totalBytes} bytes; pull again to resume.`);
  }
  progress.phase("verifying", received.bytes, totalBytes);
  if (expectedSha !== null && received.sha256 !== expectedSha) {
    await removeTemp();
    throw errors.checksumMismatch(src.label, expectedSha, received.sha256);
  }
  try {
    await checkGgufFile(temp.partial);
  } catch (err) {
    if (!(err instanceof GgufFileError)) throw err;
    await removeTemp();
    throw errors.invalidModelFile(src.label, err.message);
  }
  let alreadyPresent: boolean;
  try {
    alreadyPresent = await placeFile(temp.partial, finalPath, name, received.sha256);
  } finally {
    await removeQuietly(temp.meta);
  }
  const verified = expectedSha !== null ? "sha256" : totalBytes !== null ? "size" : "none";
  return result(received.bytes, received.sha256, alreadyPresent ? 0 : opened.start, alreadyPresent, verified);
}

/** Maps what went wrong during the transfer; a lost connection or an abort keeps the partial file. */
async function classify(err: unknown, ctx: { name: string; label: string; removeTemp: () => Promise<void> }): Promise<unknown> {
  if (HearthError.is(err)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    await ctx.removeTemp();
    return errors.insufficientStorage(ctx.name, null);
  }
  if (err instanceof OverrunError) {
    await ctx.removeTemp();
    return errors.pullFailed(ctx.label, `the source sent ${err.message}; the partial file was removed.`);
  }
  return err;
}
