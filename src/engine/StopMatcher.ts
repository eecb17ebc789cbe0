/**
 * Finds stop strings in streamed text. Text that could still turn into a stop string is held back,
 * so a client never sees the start of a stop string that is cut off later.
 */
export class StopMatcher {
  readonly #stops: readonly string[];
  #held = "";
  #matched: string | null = null;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /**
   * The stop string that ended the text, once one did: clients are told which (Anthropic's
   * `stop_sequence`). At one position the first listed wins.
   */
  get matched(): string | null { return this.#matched; }

  /** Adds text; returns what may be released now, and whether a stop string ended the text. */
  push(text: string): { text: string; stopped: boolean } {
    if (this.#stops.length === 0) return { text, stopped: false };
    const buf = this.#held + text;
    let cut = -1;
    for (const stop of this.#stops) {
      const at = buf.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        this.#matched = stop;
      }
    }
    if (cut >= 0) {
      this.#held = "";
      return { text: buf.slice(0, cut), stopped: true };
    }
    const hold = this.#longestPartialStop(buf);
    this.#held = buf.slice(buf.length - hold);
    return { text: buf.slice(0, buf.length - hold), stopped: false };
  }

  /** Releases held text at the end of generation: it never became a stop string. */
  flush(): string {
    const text = this.#held;
    this.#held = "";
    return text;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop string. */
  #longestPartialStop(buf: string): number {
    let best = 0;
    for (const stop of this.#stops) {
      for (let k = Math.min(stop.length - 1, buf.length); k > best; k--) {
        if (buf.endsWith(stop.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
