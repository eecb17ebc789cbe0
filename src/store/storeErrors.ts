import { errors, HearthError } from "../errors.ts";

/** A PostgreSQL error's SQLSTATE (`23505`), present on errors from the server (pg and PGlite alike). */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * True when the database could not be reached or did not answer, as opposed to refusing the
 * statement: a network error (no SQLSTATE), or a server-side connection failure (class 08),
 * shutdown (57P01-57P03), cancel by timeout (57014) or lack of resources (class 53).
 */
export function isUnavailable(err: unknown): boolean {
  if (HearthError.is(err)) return false;
  const state = sqlState(err);
  if (state === undefined) return true;
  return state.startsWith("08") || state.startsWith("53") || state === "57014" || /^57P0[123]$/.test(state);
}

/** What a caller of KeyStore or usageReport gets when the database fails: 503 if it was unreachable. */
export function storeError(err: unknown): unknown {
  if (!isUnavailable(err)) return err;
  // The cause stays for the server log; the client's message never carries the database's.
  return new HearthError({ ...errors.storeUnavailable().toWire(), cause: err });
}
