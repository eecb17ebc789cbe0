/** Follows the nesting of a JSON text character by character, strings and escapes included. */
export class JsonNesting {
  #depth = 0;
  #inString = false;
  #escaped = false;

  get depth(): number { return this.#depth; }
  get inString(): boolean { return this.#inString; }

  /** Takes one character; true when it closes the outermost object or array. */
  push(c: string): boolean {
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (c === "\\") this.#escaped = true;
      else if (c === "\"") this.#inString = false;
      return false;
    }
    if (c === "\"") this.#inString = true;
    else if (c === "{" || c === "[") this.#depth++;
    else if (c === "}" || c === "]") return --this.#depth === 0;
    return false;
  }
}
