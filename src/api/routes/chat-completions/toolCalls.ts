import { randomBytes } from "node:crypto";
import { JsonNesting } from "../../../util/JsonNesting.ts";

/** Events of the tool calls read from grammar-constrained output, as OpenAI streams them; `position` is the call's index. */
export type ToolCallPiece =
  | { kind: "start"; position: number; name: string }
  | { kind: "arguments"; position: number; text: string };

/** How a forced call's output is shaped: the arguments of a named function, `{"name", "arguments"}`, or an array of those. */
export type ToolCallShape = { kind: "arguments"; name: string } | { kind: "wrapped" } | { kind: "array" };

const WRAPPER_HEAD = /^\s*\{\s*"name"\s*:\s*"([a-zA-Z0-9_-]{1,64})"\s*,\s*"arguments"\s*:\s*(?=\{)/;
/** Between calls of an array: the end of one `{"name", "arguments"}` object, then a comma or the end. */
const BETWEEN_CALLS = /^\s*\}\s*(,|\])/;

export const newToolCallId = () => `call_${randomBytes(12).toString("base64url")}`;

/**
 * Reads the output of a forced tool call as it streams. With a named function the output is the
 * arguments object itself; with `required` it is `{"name": ..., "arguments": {...}}` (the grammar
 * emits the keys in this order), or an array of those when parallel calls are allowed. Each call's
 * name is read once complete and its arguments passed on as they come, up to where the arguments
 * object closes.
 */
export class ToolCallReader {
  readonly #shape: ToolCallShape;
  readonly calls: { name: string; arguments: string }[] = [];
  /** Text not yet read: before a call's arguments start, and between calls. */
  #buffer = "";
  /** Reading a call's arguments (the last of `calls`), else looking for the next call's head. */
  #inArguments = false;
  #opened = false;
  /** In an array, after a call: its closing brace and a comma or the closing bracket come next. */
  #between = false;
  #nesting = new JsonNesting();
  #done = false;

  constructor(shape: ToolCallShape) {
    this.#shape = shape;
  }

  push(text: string): ToolCallPiece[] {
    const out: ToolCallPiece[] = [];
    this.#buffer += text;
    while (!this.#done && this.#buffer !== "") {
      if (this.#inArguments) {
        const args = this.#scan();
        if (args) {
          this.calls.at(-1)!.arguments += args;
          out.push({ kind: "arguments", position: this.calls.length - 1, text: args });
        }
        continue;
      }
      if (!this.#head()) break;
      out.push({ kind: "start", position: this.calls.length - 1, name: this.calls.at(-1)!.name });
    }
    return out;
  }

  /** Reads up to the next call's arguments; false when more text is needed (or the output ended). */
  #head(): boolean {
    const shape = this.#shape;
    if (shape.kind === "arguments") {
      this.#buffer = this.#buffer.trimStart();
      if (this.#buffer === "") return false;
      return this.#begin(shape.name, 0);
    }
    if (shape.kind === "array" && !this.#opened) {
      const m = /^\s*\[/.exec(this.#buffer);
      if (!m) return false;
      this.#opened = true;
      this.#buffer = this.#buffer.slice(m[0].length);
    } else if (this.#between) {
      const m = BETWEEN_CALLS.exec(this.#buffer);
      if (!m) return false;
      this.#buffer = this.#buffer.slice(m[0].length);
      this.#between = false;
      if (m[1] === "]") {
        this.#done = true;
        return false;
      }
    }
    const m = WRAPPER_HEAD.exec(this.#buffer);
    if (!m) return false;
    return this.#begin(m[1]!, m[0].length);
  }

  #begin(name: string, skip: number): boolean {
    this.calls.push({ name, arguments: "" });
    this.#buffer = this.#buffer.slice(skip);
    this.#inArguments = true;
    this.#nesting = new JsonNesting();
    return true;
  }

  /** Takes the part of the buffer that belongs to the arguments value (a JSON object). */
  #scan(): string {
    const text = this.#buffer;
    let i = 0;
    let closed = false;
    for (; i < text.length && !closed; i++) closed = this.#nesting.push(text[i]!);
    this.#buffer = text.slice(i);
    if (closed) {
      this.#inArguments = false;
      if (this.#shape.kind === "array") this.#between = true;
      else this.#done = true;
    }
    return text.slice(0, i);
  }
}
