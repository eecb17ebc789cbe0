import { randomBytes } from "node:crypto";
import { JsonNesting } from "../util/JsonNesting.ts";
import type { ToolCall, ToolCallEvent, ToolCallShape } from "./types.ts";

const WRAPPER_HEAD = /^\s*\{\s*"name"\s*:\s*"([a-zA-Z0-9_-]{1,64})"\s*,\s*"arguments"\s*:\s*(?=\{)/;
/** Between calls of an array: the end of one `{"name", "arguments"}` object, then a comma or the end. */
const BETWEEN_CALLS = /^\s*\}\s*(,|\])/;

export const newToolCallId = () => `call_${randomBytes(12).toString("base64url")}`;

/** The events of a call known whole at once (one the model wrote in its template's syntax, a cached one). */
export function wholeToolCall(index: number, call: Omit<ToolCall, "id">): ToolCallEvent[] {
  return [
    { type: "tool_call_start", index, id: newToolCallId(), name: call.name },
    { type: "tool_call_delta", index, arguments: call.arguments },
    { type: "tool_call_done", index },
  ];
}

/** Adds one event to the calls it belongs to: what a consumer that needs whole calls keeps. */
export function collectToolCall(calls: ToolCall[], ev: ToolCallEvent): void {
  if (ev.type === "tool_call_start") calls[ev.index] = { id: ev.id, name: ev.name, arguments: "" };
  else if (ev.type === "tool_call_delta") calls[ev.index]!.arguments += ev.arguments;
}

/**
 * Reads the output of a forced tool call as it streams, wherever it is produced (a runner's
 * constrained generation, an upstream's constrained content). With a named function the output is
 * the arguments object itself; with `required` it is `{"name": ..., "arguments": {...}}`, or an
 * array of those when parallel calls are allowed. Each call starts once its name is complete, its
 * arguments are passed on as they come, and it is done where its arguments object closes.
 */
export class ToolCallReader {
  readonly #shape: ToolCallShape;
  /** The index of the call last started; -1 before the first. */
  #index = -1;
  /** Text not yet read: before a call's arguments start, and between calls. */
  #buffer = "";
  /** Reading a call's arguments (the last started), else looking for the next call's head. */
  #inArguments = false;
  #opened = false;
  /** In an array, after a call: its closing brace and a comma or the closing bracket come next. */
  #between = false;
  #nesting = new JsonNesting();
  #done = false;

  constructor(shape: ToolCallShape) {
    this.#shape = shape;
  }

  push(text: string): ToolCallEvent[] {
    const out: ToolCallEvent[] = [];
    this.#buffer += text;
    while (!this.#done && this.#buffer !== "") {
      if (this.#inArguments) {
        const index = this.#index;
        const { args, closed } = this.#scan();
        if (args) out.push({ type: "tool_call_delta", index, arguments: args });
        if (closed) out.push({ type: "tool_call_done", index });
        continue;
      }
      const name = this.#head();
      if (name === null) break;
      out.push({ type: "tool_call_start", index: this.#index, id: newToolCallId(), name });
    }
    return out;
  }

  /** Reads up to the next call's arguments and returns its name; null when more text is needed (or the output ended). */
  #head(): string | null {
    const shape = this.#shape;
    if (shape.kind === "arguments") {
      this.#buffer = this.#buffer.trimStart();
      if (this.#buffer === "") return null;
      return this.#begin(shape.name, 0);
    }
    if (shape.kind === "array" && !this.#opened) {
      const m = /^\s*\[/.exec(this.#buffer);
      if (!m) return null;
      this.#opened = true;
      this.#buffer = this.#buffer.slice(m[0].length);
    } else if (this.#between) {
      const m = BETWEEN_CALLS.exec(this.#buffer);
      if (!m) return null;
      this.#buffer = this.#buffer.slice(m[0].length);
      this.#between = false;
      if (m[1] === "]") {
        this.#done = true;
        return null;
      }
    }
    const m = WRAPPER_HEAD.exec(this.#buffer);
    if (!m) return null;
    return this.#begin(m[1]!, m[0].length);
  }

  #begin(name: string, skip: number): string {
    this.#index++;
    this.#buffer = this.#buffer.slice(skip);
    this.#inArguments = true;
    this.#nesting = new JsonNesting();
    return name;
  }

  /** Takes the part of the buffer that belongs to the arguments value (a JSON object). */
  #scan(): { args: string; closed: boolean } {
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
    return { args: text.slice(0, i), closed };
  }
}
