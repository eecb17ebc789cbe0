import { InvalidArgumentError } from "commander";

/**
 * A commander parser for a numeric flag: the number, or an error naming the flag and what it takes.
 * `above` is an exclusive bound (a rate of 0.5/s is fine, 0 is not); `min` an inclusive one.
 */
export function numberFlag(name: string, { integer = true, min, above, unit = "" }: { integer?: boolean; min?: number; above?: number; unit?: string } = {}) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || Number.isNaN(n) || (integer && !Number.isInteger(n)) || (min !== undefined && n < min) || (above !== undefined && !(n > above))) {
      const bound = min !== undefined ? ` of at least ${min}${unit}` : above !== undefined ? ` above ${above}${unit}` : "";
      throw new InvalidArgumentError(`${name} must be ${integer ? "an integer" : "a number"}${bound}`);
    }
    return n;
  };
}
