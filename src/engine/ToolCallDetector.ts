import { JsonNesting } from "../util/JsonNesting.ts";
import { partialMarkerLength } from "../util/partialMarker.ts";
import type { ToolCall } from "./types.ts";

/**
 * A chat template's function-call syntax, as node-llama-cpp's chat wrappers define it
 * (`settings.functions.call`): text, then `prefix` name `paramsPrefix` {JSON arguments} `suffix`.
 */
export interface ToolCallSyntax {
  /** The call prefix and the alternate forms that also start a call (`prefixAlternateMatches`). */
  prefixes: string[];
  paramsPrefix: string;
  /**
   * What follows a prefix before the name, per prefix. Where the call starts with a special token
   * (Qwen's `<tool_call>`, Llama 3.1's `<|python_tag|>`), that token alone is a prefix, so that once
   * it is sampled the grammar writes the rest (`\n{"name": "`) with the name.
   */
  namePrefixes?: Record<string, string>;
  /** A space may come between the prefix and the name. */
  optionalPrefixSpace: boolean;
  /**
   * Where the family allows several calls in one turn: what ends a call, what comes between two,
   * the prefix the next one starts with, and what ends the last one (Mistral's `]`).
   */
  next?: { suffix: string; between: string; prefix: string; end: string };
}

/** What the grammar must allow next: nothing special (`text`), one of these strings (`name`), the tool's arguments (`params`). */
export type DetectorPhase =
  | { kind: "text" }
  | { kind: "name"; allowed: string[] }
  | { kind: "params"; name: string }
  | { kind: "done"; call: Omit<ToolCall, "id"> }
  /** After a call, with more allowed: its suffix, then either the next call's start or the end of the reply. */
  | { kind: "between"; allowed: string[] };

/**
 * Reads generated text for a tool call in the template's syntax. Text that cannot be part of a call
 * prefix is released as it comes; text that could be the start of one is held back until it is
 * either a whole prefix (the call starts) or not (it is released). Once the call starts, the name
 * and then the arguments are read (the engine constrains them with grammars: `phase` says which),
 * and the call is done when the arguments object closes.
 */
export class ToolCallDetector {
  readonly #syntax: ToolCallSyntax;
  readonly #names: readonly string[];
  #phase: DetectorPhase = { kind: "text" };
  /** Text held back: a possible prefix (text phase), or everything since the prefix (name, params). */
  #held = "";
  /** Where the call's prefix starts in the held text of the name phase (the prefix itself is held too). */
  #callStart = 0;
  /** What the grammar writes before the name, for the prefix that started this call. */
  #namePrefix = "";
  /** The call's text up to its arguments (prefix, name, params prefix), content again if the call never completes. */
  #raw = "";
  #arguments = "";
  #nesting = new JsonNesting();
  /** Text of the same piece after a call's arguments closed: the start of what follows the call. */
  #afterCall = "";

  constructor(syntax: ToolCallSyntax, names: readonly string[]) {
    this.#syntax = { ...syntax, prefixes: syntax.prefixes.filter((p) => p.length > 0) };
    this.#names = names;
  }

  get phase(): DetectorPhase { return this.#phase; }

  /** Takes released text; returns the part of it that is message content. */
  push(text: string): string {
    switch (this.#phase.kind) {
      case "done": return "";
      case "text": return this.#text(text);
      case "name": return this.#name(text);
      case "params": this.#params(text); return "";
      case "between": return this.#between(text);
    }
  }

  /**
   * After a done call: reads on for another one where the syntax allows several (returns true), the
   * engine then constrains the text between them to the call's suffix and the next one's start.
   */
  next(): boolean {
    const next = this.#syntax.next;
    if (this.#phase.kind !== "done" || !next) return false;
    this.#raw = "";
    this.#arguments = "";
    this.#nesting = new JsonNesting();
    this.#held = "";
    this.#phase = { kind: "between", allowed: [next.suffix + next.between + next.prefix, next.suffix + next.end] };
    const rest = this.#afterCall;
    this.#afterCall = "";
    if (rest !== "") this.#between(rest);
    return true;
  }

  /** Between calls: the suffix is not content; the next call's start begins its name phase. */
  #between(text: string): string {
    this.#held += text;
    const [more, end] = (this.#phase as { allowed: string[] }).allowed as [string, string];
    if (this.#held.startsWith(more)) {
      const rest = this.#held.slice(more.length);
      const lead = this.#syntax.next!.prefix;
      this.#namePrefix = this.#syntax.namePrefixes?.[lead] ?? "";
      this.#held = lead;
      this.#callStart = lead.length;
      this.#phase = { kind: "name", allowed: [] };
      return this.#name(rest);
    }
    if (more.startsWith(this.#held) || end.startsWith(this.#held)) return "";
    // Past the suffix, and not a call: text again.
    const rest = this.#held.startsWith(end) ? this.#held.slice(end.length) : this.#held;
    this.#held = "";
    this.#phase = { kind: "text" };
    return this.#text(rest);
  }

  /** Generation ended: whatever is held (a possible prefix, an unfinished call) is content after all. */
  flush(): string {
    if (this.#phase.kind === "done") return "";
    if (this.#phase.kind === "between") {
      this.#held = "";
      this.#phase = { kind: "text" };
      return "";
    }
    const out = this.#raw + this.#held + this.#arguments;
    this.#raw = "";
    this.#held = "";
    this.#arguments = "";
    this.#phase = { kind: "text" };
    return out;
  }

  #text(text: string): string {
    const buffer = this.#held + text;
    let at = -1;
    let prefix = "";
    for (const p of this.#syntax.prefixes) {
      const i = buffer.indexOf(p);
      if (i >= 0 && (at < 0 || i < at || (i === at && p.length > prefix.length))) {
        at = i;
        prefix = p;
      }
    }
    if (at >= 0) {
      this.#namePrefix = this.#syntax.namePrefixes?.[prefix] ?? "";
      this.#held = buffer.slice(at, at + prefix.length);
      this.#callStart = this.#held.length;
      this.#phase = { kind: "name", allowed: [] };
      return buffer.slice(0, at) + this.#name(buffer.slice(at + prefix.length));
    }
    const keep = partialMarkerLength(buffer, this.#syntax.prefixes);
    this.#held = buffer.slice(buffer.length - keep);
    return buffer.slice(0, buffer.length - keep);
  }

  #name(text: string): string {
    this.#held += text;
    const typed = this.#held.slice(this.#callStart);
    const { paramsPrefix, optionalPrefixSpace } = this.#syntax;
    const namePrefix = this.#namePrefix;
    const fulls = this.#names.flatMap((n) => (optionalPrefixSpace ? [n + paramsPrefix, ` ${n}${paramsPrefix}`] : [n + paramsPrefix]).map((full) => ({ n, full: namePrefix + full })));
    const whole = fulls.find((f) => typed.startsWith(f.full));
    if (whole) {
      const rest = typed.slice(whole.full.length);
      this.#raw = this.#held.slice(0, this.#held.length - rest.length);
      this.#held = "";
      this.#phase = { kind: "params", name: whole.n };
      if (rest !== "") this.#params(rest);
      return "";
    }
    const allowed = fulls.filter((f) => f.full.startsWith(typed)).map((f) => f.full.slice(typed.length));
    if (allowed.length === 0) return this.#falseStart();
    this.#phase = { kind: "name", allowed };
    return "";
  }

  /** What looked like a call is not one: its text is content, read again for a later prefix. */
  #falseStart(): string {
    const held = this.#held;
    this.#held = "";
    this.#phase = { kind: "text" };
    // The first character cannot start the same prefix again: release it, then read on.
    return held.slice(0, 1) + this.#text(held.slice(1));
  }

  #params(text: string): void {
    let i = 0;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (this.#nesting.depth === 0 && this.#arguments === "" && /\s/.test(c)) continue;
      this.#nesting.push(c);
      this.#arguments += c;
      if (this.#nesting.depth === 0 && !this.#nesting.inString) {
        const name = (this.#phase as { name: string }).name;
        this.#phase = { kind: "done", call: { name, arguments: this.#arguments } };
        this.#afterCall = text.slice(i + 1);
        return;
      }
    }
  }
}
