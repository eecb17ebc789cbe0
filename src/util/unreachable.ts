/** Compile-time exhaustiveness check: a missing case in a switch over a union fails to type-check. */
export function unreachable(value: never): never {
  throw new Error(`unreachable: ${String(value)}`);
}
