/**
 * UTF-8's well-formed byte sequences (the Unicode Standard, table 3-7) as an automaton over bytes.
 * A state says where a byte stream stands: between characters, or inside one with 1 to 3
 * continuation bytes still owed and the range the next one must fall in. That range is narrower
 * than 0x80-0xBF right after E0, ED, F0 and F4, which is how overlong forms, surrogates and code
 * points past U+10FFFF are excluded.
 */

/** Between characters: every byte so far forms whole characters. */
export const ACCEPT = 0;
/** No well-formed sequence continues this way. */
export const REJECT = 255;
/** ACCEPT and the seven states inside a character. */
export const UTF8_STATES = 8;

/** Per state: continuation bytes owed, and the range of the next byte (inclusive). */
const INSIDE: readonly (readonly [owed: number, lo: number, hi: number])[] = [
  [0, 0, 0], // ACCEPT
  [1, 0x80, 0xbf],
  [2, 0x80, 0xbf],
  [3, 0x80, 0xbf],
  [2, 0xa0, 0xbf], // after E0: no overlong three-byte forms
  [2, 0x80, 0x9f], // after ED: no surrogates
  [3, 0x90, 0xbf], // after F0: no overlong four-byte forms
  [3, 0x80, 0x8f], // after F4: nothing past U+10FFFF
];

/** The state a lead byte starts (REJECT for bytes that never lead: 80-C1, F5-FF). */
function afterLead(b: number): number {
  if (b < 0x80) return ACCEPT;
  if (b >= 0xc2 && b <= 0xdf) return 1;
  if (b === 0xe0) return 4;
  if (b === 0xed) return 5;
  if (b >= 0xe1 && b <= 0xef) return 2;
  if (b === 0xf0) return 6;
  if (b >= 0xf1 && b <= 0xf3) return 3;
  if (b === 0xf4) return 7;
  return REJECT;
}

/** TRANSITIONS[state * 256 + byte]: the next state. */
const TRANSITIONS = (() => {
  const table = new Uint8Array(UTF8_STATES * 256).fill(REJECT);
  for (let b = 0; b < 256; b++) table[b] = afterLead(b);
  for (let s = 1; s < UTF8_STATES; s++) {
    const [owed, lo, hi] = INSIDE[s]!;
    // Past the first continuation byte the range is the plain one: 3 owed -> 2, 2 owed -> 1.
    for (let b = lo; b <= hi; b++) table[s * 256 + b] = owed === 1 ? ACCEPT : owed - 1;
  }
  return table;
})();

/** The state after one more byte. */
export function utf8Step(state: number, byte: number): number {
  return TRANSITIONS[state * 256 + byte]!;
}

/** The state after `bytes` from `state`; REJECT as soon as a byte cannot come. */
export function utf8Run(state: number, bytes: ArrayLike<number>): number {
  let s = state;
  for (let i = 0; i < bytes.length && s !== REJECT; i++) s = TRANSITIONS[s * 256 + bytes[i]!]!;
  return s;
}

