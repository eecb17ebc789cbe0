import { errors } from "../../errors.ts";

/**
 * Model files land in one flat folder under a name that becomes the model id, so a name must be a
 * plain base name: the registry's scanner takes `*.gguf` files and skips dotfiles, and our own temp
 * files are dotfiles. The allowed characters are few on purpose: no separators, no `%` (a name
 * that still holds an escape after decoding is a double-encoding trick), no spaces or look-alike
 * Unicode, and no leading `-` that a shell would read as a flag.
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+=@,-]*\.gguf$/;
const MAX_NAME_BYTES = 200; // leaves room for the temp files' prefix and suffix under NAME_MAX (255)

/** Why `name` is refused, or null when it is fine. */
export function nameProblem(name: string): string | null {
  if (name.includes("\0")) return "it contains a NUL byte";
  if (name.includes("/") || name.includes("\\")) return "it must be a plain file name, without folders";
  if (name === "." || name === ".." || name.startsWith(".")) return "it must not start with '.'";
  if (name.includes("%")) return "it must not contain '%' (encoded characters are refused)";
  if (!name.endsWith(".gguf")) return "it must end in '.gguf'";
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `it is longer than ${MAX_NAME_BYTES} bytes`;
  if (!NAME.test(name)) return "it may hold only letters, digits and . _ + = @ , - and must start with a letter or digit";
  return null;
}

/** The name the caller chose (`--name`, the route's `name`): `.gguf` is added when missing. */
export function checkChosenName(name: string): string {
  const withExt = name.endsWith(".gguf") ? name : `${name}.gguf`;
  const problem = nameProblem(withExt);
  if (problem) throw errors.invalidModelName(`'${printable(name)}': ${problem}.`);
  return withExt;
}

/**
 * The name derived from the last segment of a source. `encoded` says the segment is
 * percent-encoded (URL paths); it is decoded once, so `%2f` becomes `/` and is then refused.
 */
export function nameFromSource(segment: string, encoded: boolean): string {
  let name = segment;
  if (encoded) {
    try {
      name = decodeURIComponent(segment);
    } catch {
      throw errors.invalidModelSource(`the file name '${printable(segment)}' is not validly percent-encoded.`);
    }
  }
  const problem = nameProblem(name);
  if (problem) throw errors.invalidModelSource(`the file name '${printable(name)}' derived from it is refused: ${problem}. Pass a name explicitly.`);
  return name;
}

/** The model id the registry will give the file. */
export function modelIdOf(name: string): string {
  return name.replace(/\.gguf$/, "");
}

/** Control characters would let a name rewrite a terminal line or a log entry. */
function printable(s: string): string {
  return s.slice(0, 120).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
