/**
 * Row quantizers for the ggml block formats the generator writes, ported from llama.cpp's reference
 * quantizers (`quantize_row_*_ref` in ggml/src/ggml-quants.c) with the struct layouts of
 * ggml/src/ggml-common.h. All integers are little-endian. Arithmetic is in doubles rather than
 * floats, so a K-quant block can differ from llama.cpp's where a rounding falls the other way:
 * checked against the ggml-quants.c that node-llama-cpp 3.21.1 builds, Q4_0, Q5_0 and Q8_0 came out
 * byte-identical, Q4_K and Q6_K 99-100% identical, and ggml's dequantizers read every block back
 * with the same error as from its own quantizers' blocks.
 */
import { GGML_BLOCK, GgmlType, rowBytes, type GgmlTypeId } from "../gguf/GgufWriter.ts";
import { unreachable } from "../../util/unreachable.ts";

export const QK_K = 256;
/** ggml-quants.c's threshold below which a group counts as all zero. */
const GROUP_MAX_EPS = 1e-15;

/** Encodes `x` (a multiple of the type's block size long) as `type` into `out` (exactly its row bytes). */
export function quantizeRow(type: GgmlTypeId, x: Float32Array, out: Uint8Array): void {
  const bytes = rowBytes(type, x.length);
  if (out.length !== bytes) throw new RangeError(`${GGML_BLOCK[type].name} row of ${x.length}: output is ${out.length} bytes, ${bytes} expected`);
  switch (type) {
    case GgmlType.F32: out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)); return;
    case GgmlType.F16: out.set(new Uint8Array(new Float16Array(x).buffer)); return;
    case GgmlType.Q4_0: return quantizeQ4_0(x, out);
    case GgmlType.Q5_0: return quantizeQ5_0(x, out);
    case GgmlType.Q8_0: return quantizeQ8_0(x, out);
    case GgmlType.Q4_K: return quantizeQ4_K(x, out);
    case GgmlType.Q6_K: return quantizeQ6_K(x, out);
    default: return unreachable(type);
  }
}

const viewOf = (out: Uint8Array) => new DataView(out.buffer, out.byteOffset, out.byteLength);

/** 1.5 * 2^52: adding and subtracting it rounds a double of magnitude below 2^51 to an integer, ties to even. */
const ROUNDER = 6755399441055744;

/** llama.cpp's nearest_int (the same trick at float precision): round to nearest, ties to even. */
export function nearestInt(v: number): number {
  return v + ROUNDER - ROUNDER;
}

/** C's roundf: ties away from zero. */
const roundAway = (v: number) => (v < 0 ? -Math.round(-v) : Math.round(v));

/** The signed value of largest magnitude in x[from, from + n) (the first one on a tie). */
function signedMax(x: Float32Array, from: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = from; j < from + n; j++) {
    const v = x[j]!;
    if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
  }
  return max;
}

/** quantize_row_q4_0_ref: d = max / -8, q = clamp(trunc(x / d + 8.5), 0, 15), value (q - 8) * d. */
export function quantizeQ4_0(x: Float32Array, out: Uint8Array): void {
  const view = viewOf(out);
  for (let b = 0; b < x.length / 32; b++) {
    const xb = b * 32;
    const o = b * 18;
    const d = signedMax(x, xb, 32) / -8;
    const id = d ? 1 / d : 0;
    view.setFloat16(o, d, true);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(x[xb + j]! * id + 8.5));
      const hi = Math.min(15, Math.trunc(x[xb + 16 + j]! * id + 8.5));
      out[o + 2 + j] = lo | (hi << 4);
    }
  }
}

/** quantize_row_q5_0_ref: d = max / -16, q = clamp(trunc(x / d + 16.5), 0, 31), value (q - 16) * d. */
export function quantizeQ5_0(x: Float32Array, out: Uint8Array): void {
  const view = viewOf(out);
  for (let b = 0; b < x.length / 32; b++) {
    const xb = b * 32;
    const o = b * 22;
    const d = signedMax(x, xb, 32) / -16;
    const id = d ? 1 / d : 0;
    view.setFloat16(o, d, true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(31, Math.trunc(x[xb + j]! * id + 16.5));
      const hi = Math.min(31, Math.trunc(x[xb + 16 + j]! * id + 16.5));
      out[o + 6 + j] = (lo & 0x0f) | ((hi & 0x0f) << 4);
      qh |= ((lo & 0x10) >>> 4) << j;
      qh |= ((hi & 0x10) >>> 4) << (j + 16);
    }
    view.setUint32(o + 2, qh >>> 0, true);
  }
}

/** quantize_row_q8_0_ref: d = amax / 127, q = round(x / d). */
export function quantizeQ8_0(x: Float32Array, out: Uint8Array): void {
  const view = viewOf(out);
  for (let b = 0; b < x.length / 32; b++) {
    const xb = b * 32;
    const o = b * 34;
    const d = Math.abs(signedMax(x, xb, 32)) / 127;
    const id = d ? 1 / d : 0;
    view.setFloat16(o, d, true);
    for (let j = 0; j < 32; j++) view.setInt8(o + 2 + j, roundAway(x[xb + j]! * id));
  }
}

/**
 * quantize_row_q4_K_ref. Eight groups of 32 per super-block of 256, each value = d * sc[g] * q -
 * dmin * m[g] with q in 0..15 and six-bit sc and m. Group g's nibbles sit in bytes 32 * (g >> 1)
 * onward of qs: the low nibbles for even g, the high ones for odd g.
 */
export function quantizeQ4_K(x: Float32Array, out: Uint8Array): void {
  const view = viewOf(out);
  const L = new Uint8Array(QK_K);
  const Laux = new Float64Array(32);
  const weights = new Float64Array(32);
  const xs = new Float64Array(32);
  const scales = new Float64Array(8);
  const mins = new Float64Array(8);
  const fit = new Float64Array(2);
  for (let i = 0; i < x.length / QK_K; i++) {
    const xb = i * QK_K;
    const o = i * 144;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) {
        xs[l] = x[xb + 32 * j + l]!;
        sumX2 += xs[l]! * xs[l]!;
      }
      const avX = Math.sqrt(sumX2 / 32);
      for (let l = 0; l < 32; l++) weights[l] = avX + Math.abs(xs[l]!);
      makeQkx2Quants(15, xs, weights, L, 32 * j, Laux, -1, 0.1, 20, fit);
      scales[j] = fit[0]!;
      mins[j] = fit[1]!;
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }
    const invScale = maxScale > 0 ? 63 / maxScale : 0;
    const invMin = maxMin > 0 ? 63 / maxMin : 0;
    const sc = out.subarray(o + 4, o + 16);
    sc.fill(0);
    for (let j = 0; j < 8; j++) {
      const ls = Math.max(0, Math.min(63, nearestInt(invScale * scales[j]!)));
      const lm = Math.max(0, Math.min(63, nearestInt(invMin * mins[j]!)));
      if (j < 4) {
        sc[j] = ls;
        sc[j + 4] = lm;
      } else {
        sc[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        sc[j - 4]! |= (ls >> 4) << 6;
        sc[j]! |= (lm >> 4) << 6;
      }
    }
    view.setFloat16(o, maxScale / 63, true);
    view.setFloat16(o + 2, maxMin / 63, true);
    const d = view.getFloat16(o, true);
    const dmin = view.getFloat16(o + 2, true);
    for (let j = 0; j < 8; j++) {
      const [s, m] = scaleMinK4(j, sc);
      const dj = d * s;
      if (!dj) continue;
      const mj = dmin * m;
      for (let l = 0; l < 32; l++) L[32 * j + l] = Math.max(0, Math.min(15, nearestInt((x[xb + 32 * j + l]! + mj) / dj)));
    }
    for (let j = 0, q = o + 16; j < QK_K; j += 64, q += 32) {
      for (let l = 0; l < 32; l++) out[q + l] = L[j + l]! | (L[j + l + 32]! << 4);
    }
  }
}

/** get_scale_min_k4: group j's six-bit scale and min from the 12 packed bytes. */
export function scaleMinK4(j: number, q: Uint8Array): [number, number] {
  if (j < 4) return [q[j]! & 63, q[j + 4]! & 63];
  return [(q[j + 4]! & 0xf) | ((q[j - 4]! >> 6) << 4), (q[j + 4]! >> 4) | ((q[j]! >> 6) << 4)];
}

/**
 * make_qkx2_quants: fits the group xs ~ scale * L - min with L in 0..nmax by a weighted
 * least-squares search over nstep + 1 candidate scales. Writes L to L[lo, lo + xs.length) and
 * [scale, min] to `fit`.
 */
function makeQkx2Quants(nmax: number, xs: Float64Array, weights: Float64Array, L: Uint8Array, lo: number,
  Laux: Float64Array, rmin: number, rdelta: number, nstep: number, fit: Float64Array): void {
  const n = xs.length;
  let min = xs[0]!;
  let max = xs[0]!;
  let sumW = weights[0]!;
  let sumX = sumW * xs[0]!;
  for (let i = 1; i < n; i++) {
    const v = xs[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    const w = weights[i]!;
    sumW += w;
    sumX += w * v;
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    fit[0] = 0; fit[1] = -min;
    return;
  }
  let iscale = nmax / (max - min);
  let scale = 1 / iscale;
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.max(0, Math.min(nmax, nearestInt(iscale * (xs[i]! - min))));
    L[lo + i] = l;
    const diff = scale * l + min - xs[i]!;
    bestError += weights[i]! * diff * diff;
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(iscale * (xs[i]! - min))));
      Laux[i] = l;
      const w = weights[i]!;
      sumL += w * l;
      sumL2 += w * l * l;
      sumXL += w * l * xs[i]!;
    }
    const D = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      let thisScale = (sumW * sumXL - sumX * sumL) / D;
      let thisMin = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = thisScale * Laux[i]! + thisMin - xs[i]!;
        curError += weights[i]! * diff * diff;
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = Laux[i]!;
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  fit[0] = scale; fit[1] = -min;
}

/**
 * quantize_row_q6_K_ref. Sixteen groups of 16 per super-block, each value = d * sc[g] * (q - 32)
 * with q in 0..63 and int8 sc. For each 128-element half h and l in 0..31, element 128h + l + 32k
 * (k = 0..3) keeps its low four bits in ql[64h + l + 32(k & 1)] (low nibble for k < 2) and its top
 * two bits in bits 2k..2k+1 of qh[32h + l].
 */
export function quantizeQ6_K(x: Float32Array, out: Uint8Array): void {
  const view = viewOf(out);
  const L = new Int8Array(QK_K);
  const scales = new Float64Array(16);
  for (let i = 0; i < x.length / QK_K; i++) {
    const xb = i * QK_K;
    const o = i * 210;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQxQuants(16, 32, x, xb + 16 * ib, L, 16 * ib);
      scales[ib] = scale;
      if (Math.abs(scale) > maxAbsScale) { maxAbsScale = Math.abs(scale); maxScale = scale; }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      out.fill(0, o, o + 210);
      continue;
    }
    const iscale = -128 / maxScale;
    view.setFloat16(o + 208, 1 / iscale, true);
    const d = view.getFloat16(o + 208, true);
    for (let ib = 0; ib < 16; ib++) view.setInt8(o + 192 + ib, Math.max(-128, Math.min(127, nearestInt(iscale * scales[ib]!))));
    for (let j = 0; j < 16; j++) {
      const dj = d * view.getInt8(o + 192 + j);
      if (!dj) continue;
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(x[xb + 16 * j + ii]! / dj))) + 32;
    }
    for (let j = 0, ql = o, qh = o + 128; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (let l = 0; l < 32; l++) {
        const q1 = L[j + l]!, q2 = L[j + l + 32]!, q3 = L[j + l + 64]!, q4 = L[j + l + 96]!;
        out[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}

/**
 * make_qx_quants with rmse_type 1 and no importance weights: a symmetric scale for x[xo, xo + n)
 * with L - nmax in -nmax..nmax-1, searched over 19 candidates to minimise the x²-weighted error.
 * Writes L + nmax to L[lo...] and returns the scale.
 */
function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  const max = signedMax(x, xo, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  let iscale = -nmax / max;
  let sumLX = 0;
  let sumL2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i]!;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
    L[lo + i] = l + nmax;
    const w = v * v;
    sumLX += w * v * l;
    sumL2 += w * l * l;
  }
  let scale = sumL2 ? sumLX / sumL2 : 0;
  let best = scale * sumLX;
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = -(nmax + 0.1 * is) / max;
    sumLX = sumL2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i]!;
      const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
      const w = v * v;
      sumLX += w * v * l;
      sumL2 += w * l * l;
    }
    if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i]!)));
      scale = sumLX / sumL2;
      best = scale * sumLX;
    }
  }
  return scale;
}
