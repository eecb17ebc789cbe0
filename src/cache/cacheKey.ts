import { createHash } from "node:crypto";

/**
 * A stable cache key for a request: the sha256 (hex) of a normalised JSON form of `parts`, where
 * object keys are sorted at every depth, so `{a, b}` and `{b, a}` give the same key. Otherwise it
 * follows JSON: undefined members are left out, undefined in arrays and non-finite numbers become
 * null, `toJSON()` is used (Dates). Array order is kept: it means something (messages).
 *
 * Callers put in it everything that changes the answer: the model (and its file's identity), the
 * messages or prompt, every sampling parameter.
 *
 * Throws a TypeError on a bigint, function, symbol, Map, Set or cycle, rather than ignore them.
 */
export function cacheKey(parts: unknown): string {
  return createHash("sha256").update(normalise(parts, new Set())).digest("hex");
}

function normalise(value: unknown, seen: Set<object>): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object":
      break;
    default:
      throw new TypeError(`cacheKey cannot encode a ${typeof value}`);
  }
  const obj = value as object & { toJSON?: () => unknown };
  if (typeof obj.toJSON === "function") return normalise(obj.toJSON(), seen);
  if (obj instanceof Map || obj instanceof Set) throw new TypeError("cacheKey cannot encode a Map or Set; pass an object or array");
  if (seen.has(obj)) throw new TypeError("cacheKey cannot encode a cyclic structure");
  seen.add(obj);
  let out: string;
  if (Array.isArray(obj)) {
    out = `[${obj.map((v) => normalise(v, seen)).join(",")}]`;
  } else {
    const rec = obj as Record<string, unknown>;
    const members = Object.keys(rec).filter((k) => rec[k] !== undefined).sort();
    out = `{${members.map((k) => `${JSON.stringify(k)}:${normalise(rec[k], seen)}`).join(",")}}`;
  }
  seen.delete(obj);
  return out;
}
