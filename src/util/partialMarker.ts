/**
 * The longest end of `text` that is the start of one of `markers` but not all of it: text a
 * streaming reader holds back, since the next piece may complete the marker.
 */
export function partialMarkerLength(text: string, markers: Iterable<string>): number {
  let best = 0;
  for (const m of markers) {
    for (let n = Math.min(m.length - 1, text.length); n > best; n--) {
      if (text.endsWith(m.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}
