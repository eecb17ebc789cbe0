import { LlamaGrammar, LlamaGrammarEvaluationState, type Llama, type LlamaModel } from "node-llama-cpp";
import { errors } from "../../errors.ts";
import type { OutputConstraint } from "../types.ts";

/**
 * node-llama-cpp's JSON-schema grammars end with `"\n\n\n\n" [\n]*` so that LlamaChat can stop on
 * four newlines; driving a sequence directly, we cut it off: once the JSON is complete the grammar
 * allows nothing but an end-of-generation token, so the request ends exactly when the JSON closes.
 */
const SCHEMA_SUFFIX = ' "\\n\\n\\n\\n" [\\n]*';

/**
 * Compiled grammars for output constraints, kept per model (grammars belong to the Llama instance,
 * evaluation states to the model): a small LRU keyed by the constraint's JSON, so a schema sent
 * with every request is compiled once.
 */
export class Grammars {
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #max: number;
  readonly #cache = new Map<string, Promise<LlamaGrammar>>();

  constructor(llama: Llama, model: LlamaModel, max = 32) {
    this.#llama = llama;
    this.#model = model;
    this.#max = max;
  }

  get size(): number { return this.#cache.size; }

  /** A fresh evaluation state (one per request) for the constraint's grammar. */
  async stateFor(constraint: OutputConstraint): Promise<LlamaGrammarEvaluationState> {
    const grammar = await this.grammarFor(constraint);
    return new LlamaGrammarEvaluationState({ model: this.#model, grammar });
  }

  /** A state for a grammar compiled beforehand (switching grammars mid-generation must not wait). */
  stateOf(grammar: LlamaGrammar): LlamaGrammarEvaluationState {
    return new LlamaGrammarEvaluationState({ model: this.#model, grammar });
  }

  /** A state whose grammar allows exactly one of these strings (a tool call's name and what follows it). */
  oneOf(alternatives: readonly string[]): LlamaGrammarEvaluationState {
    const literal = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")}"`;
    const grammar = new LlamaGrammar(this.#llama, { grammar: `root ::= ${alternatives.map(literal).join(" | ")}` });
    return this.stateOf(grammar);
  }

  grammarFor(constraint: OutputConstraint): Promise<LlamaGrammar> {
    const key = constraint.kind === "json" ? "json" : `schema:${JSON.stringify(constraint.schema)}`;
    const hit = this.#cache.get(key);
    if (hit) {
      this.#cache.delete(key);
      this.#cache.set(key, hit);
      return hit;
    }
    const compiled = this.#compile(constraint);
    compiled.catch(() => this.#cache.delete(key));
    this.#cache.set(key, compiled);
    while (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    return compiled;
  }

  async #compile(constraint: OutputConstraint): Promise<LlamaGrammar> {
    try {
      if (constraint.kind === "json") {
        // llama.cpp's json.gbnf: an object, with bounded whitespace; it carries no stop suffix.
        const json = await this.#llama.getGrammarFor("json");
        return await this.#llama.createGrammar({ grammar: json.grammar });
      }
      const full = await this.#llama.createGrammarForJsonSchema(constraint.schema as never);
      const lines = full.grammar.split("\n");
      const root = lines.findIndex((l) => l.startsWith("root ::= "));
      if (root < 0 || !lines[root]!.endsWith(SCHEMA_SUFFIX)) throw new Error("unexpected grammar layout from node-llama-cpp");
      lines[root] = lines[root]!.slice(0, -SCHEMA_SUFFIX.length);
      return await this.#llama.createGrammar({ grammar: boundedNumbers(lines).join("\n") });
    } catch (err) {
      throw errors.invalidRequest(`The JSON schema could not be compiled into a grammar: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`, "response_format");
    }
  }
}

/**
 * node-llama-cpp's number rules allow exponents of up to 16 digits: `1E9999999999` is valid JSON
 * that every client parses as Infinity, and an integer written with an exponent is a float to
 * most of them. Integers are written without an exponent, other numbers with at most two digits;
 * strings never escape a surrogate half.
 */
function boundedNumbers(lines: string[]): string[] {
  const digits = '"-"? ("0" | [1-9] [0-9]{0,15})';
  return lines.map((l) => {
    if (l.startsWith("integer-number-rule ::= ")) return `integer-number-rule ::= ${digits}`;
    if (l.startsWith("fractional-number-rule ::= ")) return `fractional-number-rule ::= ${digits} ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?`;
    // A \u escape of a surrogate half decodes to a string that is not Unicode; other characters may
    // still be escaped, and those beyond the BMP are written as themselves.
    if (l.startsWith("string-char-rule ::= ")) return l.replace('"\\\\u" [0-9a-fA-F]{4}', '"\\\\u" ([0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2})');
    return l;
  });
}
