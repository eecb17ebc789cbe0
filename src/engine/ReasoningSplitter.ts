import { partialMarkerLength } from "../util/partialMarker.ts";

/**
 * A chat format's reasoning markers, as text (special tokens rendered): Qwen3's `<think>` ...
 * `</think>`, gpt-oss's analysis channel `<|channel|>analysis<|message|>` ... `<|end|>`.
 */
export interface ReasoningSyntax {
  open: readonly string[];
  close: readonly string[];
  /** The format's own framing, never text: gpt-oss's `<|start|>assistant<|channel|>final<|message|>`. */
  drop: readonly string[];
}

export interface Split { reasoning: string; content: string }

type Action = "open" | "close" | "drop";

/**
 * Splits generated text into reasoning and content at the format's markers, as it streams: text
 * that may be the start of a marker is held until it is one or is not. Whitespace that only frames
 * a block (the newlines around Qwen3's thinking, the blank line after it) is left out of both.
 */
export class ReasoningSplitter {
  readonly #markers: { text: string; action: Action }[];
  readonly #texts: string[];
  #reasoning: boolean;
  #held = "";
  /** Trailing whitespace of the reasoning so far: kept only if more reasoning follows it. */
  #pendingSpace = "";
  /** At the start of a block: its leading whitespace is framing. */
  #blockStart: boolean;

  constructor(syntax: ReasoningSyntax, startInReasoning: boolean) {
    this.#markers = [
      ...syntax.open.map((text) => ({ text, action: "open" as const })),
      ...syntax.close.map((text) => ({ text, action: "close" as const })),
      ...syntax.drop.map((text) => ({ text, action: "drop" as const })),
    ].filter((m) => m.text !== "");
    this.#texts = this.#markers.map((m) => m.text);
    this.#reasoning = startInReasoning;
    this.#blockStart = startInReasoning;
  }

  /** Whether text now goes to the reasoning. */
  get inReasoning(): boolean { return this.#reasoning; }

  push(text: string): Split {
    return this.#read(this.#held + text, false);
  }

  /** Generation ended: held text is what it looks like now, a marker or text of the current block. */
  flush(): Split {
    const out = this.#read(this.#held, true);
    this.#emit(out, this.#held);
    this.#held = "";
    this.#pendingSpace = "";
    return out;
  }

  #read(buffer: string, final: boolean): Split {
    const out: Split = { reasoning: "", content: "" };
    for (;;) {
      const found = this.#find(buffer, final);
      if (found === "wait" || found === null) {
        const keep = partialMarkerLength(buffer, this.#texts);
        this.#emit(out, buffer.slice(0, buffer.length - keep));
        this.#held = buffer.slice(buffer.length - keep);
        return out;
      }
      this.#emit(out, buffer.slice(0, found.at));
      this.#apply(found.action);
      buffer = buffer.slice(found.at + found.length);
    }
  }

  /**
   * The earliest whole marker (the longest at one place), or "wait" when a longer marker starting
   * at the same place (or earlier) may still complete.
   */
  #find(buffer: string, final: boolean): { at: number; length: number; action: Action } | "wait" | null {
    let best: { at: number; length: number; action: Action } | null = null;
    for (const m of this.#markers) {
      const at = buffer.indexOf(m.text);
      if (at >= 0 && (!best || at < best.at || (at === best.at && m.text.length > best.length))) best = { at, length: m.text.length, action: m.action };
    }
    if (!best || final) return best;
    return buffer.length - partialMarkerLength(buffer, this.#texts) <= best.at ? "wait" : best;
  }

  #apply(action: Action): void {
    if (action === "drop") return;
    const reasoning = action === "open";
    if (reasoning !== this.#reasoning) this.#blockStart = true;
    this.#reasoning = reasoning;
    this.#pendingSpace = "";
  }

  #emit(out: Split, text: string): void {
    if (text === "") return;
    if (this.#blockStart) {
      text = text.trimStart();
      if (text === "") return;
      this.#blockStart = false;
    }
    if (!this.#reasoning) {
      out.content += text;
      return;
    }
    const body = text.trimEnd();
    if (body !== "") {
      out.reasoning += this.#pendingSpace + body;
      this.#pendingSpace = "";
    }
    this.#pendingSpace += text.slice(body.length);
  }
}
