import { link, rename, stat, unlink } from "node:fs/promises";
import { errors } from "../../errors.ts";
import { sha256File } from "../../util/sha256File.ts";

/**
 * Gives the verified partial file its final name without ever replacing a file already there:
 * link() fails on an existing name where rename() would overwrite, and the name appears with all
 * its bytes at once. Where the file system has no hard links, rename() after a check stands in.
 * Returns true when the final name already held exactly these bytes (the partial is dropped).
 */
export async function placeFile(partial: string, final: string, name: string, sha256: string): Promise<boolean> {
  try {
    await link(partial, final);
    await unlink(partial);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return keepExisting(partial, final, name, sha256);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EMLINK" && code !== "ENOSYS") throw err;
  }
  if (await existingSize(final) !== null) return keepExisting(partial, final, name, sha256);
  await rename(partial, final);
  return false;
}

async function keepExisting(partial: string, final: string, name: string, sha256: string): Promise<boolean> {
  await unlink(partial).catch(() => {});
  if (await existingSha256(final) === sha256) return true;
  throw errors.modelExists(name);
}

/** The sha256 of the file at `path`; null when nothing is there; "" when something other than a file is. */
export async function existingSha256(path: string): Promise<string | null> {
  try {
    if (!(await stat(path)).isFile()) return "";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  return sha256File(path);
}

export async function existingSize(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : -1;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
