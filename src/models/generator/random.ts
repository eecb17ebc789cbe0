/** FNV-1a over a string, folded with a seed: a stable per-tensor stream id. */
export function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * SplitMix32-seeded xorshift128: fast, deterministic on every platform, and good enough for
 * weights whose only job is to make llama.cpp do real work.
 */
export class Rng {
  #a: number; #b: number; #c: number; #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next(); this.#b = next(); this.#c = next(); this.#d = next() | 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = this.#a ^ (this.#a << 11);
    this.#a = this.#b; this.#b = this.#c; this.#c = this.#d;
    this.#d = (this.#d ^ (this.#d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.#d;
  }

  /** Fills with uniform bytes, four per draw. */
  fillBytes(out: Uint8Array): void {
    let i = 0;
    for (; i + 4 <= out.length; i += 4) {
      const v = this.u32();
      out[i] = v & 0xff; out[i + 1] = (v >>> 8) & 0xff; out[i + 2] = (v >>> 16) & 0xff; out[i + 3] = v >>> 24;
    }
    for (; i < out.length; i++) out[i] = this.u32() & 0xff;
  }

  /** A uniform float in [-1, 1). */
  signed(): number {
    return this.u32() / 2147483648 - 1;
  }
}
