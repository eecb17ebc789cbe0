import { randomBytes } from "node:crypto";
import { JsonNesting } from "../../../util/JsonNesting.ts";

/** Events of one tool call read from grammar-constrained output, as OpenAI streams them. */
export type ToolCallPiece =
  | { kind: "start"; name: string }
  | { kind: "arguments"; text: string };

const WRAPPER_HEAD = /^\s*\{\s*"name"\s*:\s*"([a-zA-Z0-9_-]{1,64})"\s*,\s*"arguments"\s*:\s*/;

export const newToolCallId = () => `call_${randomBytes(12).toString("base64url")}`;

/**
 * Reads the output of a forced tool call as it streams. With a named function the output is the
 * arguments object itself; with `required` over several tools it is `{"name": ..., "arguments": {...}}`
 * (the grammar emits the keys in this order), from which the name is read once complete and the
 * arguments text passed on as it comes, ending where the arguments object closes.
 */
export class ToolCallReader {
  readonly #wrapped: boolean;
  #name: string | null;
  #buffer = "";
  #started = false;
  /** Scanning the arguments: nesting depth, inside a string, after a backslash, done. */
  #nesting = new JsonNesting();
  #done = false;
  #arguments = "";

  constructor(name: string | null) {
    this.#name = name;
    this.#wrapped = name === null;
  }

  get name(): string | null { return this.#name; }
  get arguments(): string { return this.#arguments; }

  push(text: string): ToolCallPiece[] {
    const out: ToolCallPiece[] = [];
    if (this.#done) return out;
    let rest = text;
    if (!this.#started) {
      this.#buffer += text;
      if (this.#wrapped) {
        const m = WRAPPER_HEAD.exec(this.#buffer);
        if (!m) return out;
        this.#name = m[1]!;
        rest = this.#buffer.slice(m[0].length);
      } else {
        rest = this.#buffer.trimStart();
        if (rest === "") return out;
      }
      this.#started = true;
      this.#buffer = "";
      out.push({ kind: "start", name: this.#name! });
    }
    const args = this.#scan(rest);
    if (args) {
      this.#arguments += args;
      out.push({ kind: "arguments", text: args });
    }
    return out;
  }

  /** The part of `text` that belongs to the arguments value (a JSON object). */
  #scan(text: string): string {
    let i = 0;
    for (; i < text.length && !this.#done; i++) {
      if (this.#nesting.push(text[i]!)) this.#done = true;
    }
    return text.slice(0, i);
  }
}
