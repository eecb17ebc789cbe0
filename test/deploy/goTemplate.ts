/**
 * A small Go text/template renderer with the Helm functions the Hearth chart uses, so the chart can
 * be rendered and checked where `helm` is not installed (it is in no Debian or npm package). It
 * covers what deploy/helm/hearth/templates use (define, include, if / else if / else, pipelines,
 * parentheses, whitespace trimming, comments) and throws on anything else, so a template that
 * outgrows it fails loudly rather than rendering wrongly. Where `helm` is installed the test
 * also renders with it and compares.
 */
import { stringify } from "yaml";

type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: string }
  | { kind: "if"; branches: { cond: string | null; body: Node[] }[] };

export type Context = Record<string, unknown>;

export class GoTemplates {
  readonly #defines = new Map<string, Node[]>();

  /** Adds a file's `define`s; returns the nodes outside them (what the file renders). */
  add(source: string): Node[] {
    const { nodes } = this.#parse(tokenize(source), 0, false);
    return nodes;
  }

  render(source: string, dot: Context): string {
    return this.#exec(this.add(source), dot, dot);
  }

  #parse(tokens: Token[], start: number, nested: boolean): { nodes: Node[]; end: number; stop?: string } {
    const nodes: Node[] = [];
    let i = start;
    while (i < tokens.length) {
      const t = tokens[i]!;
      if (t.kind === "text") { nodes.push({ kind: "text", text: t.text }); i++; continue; }
      const body = t.text;
      const word = /^(\w+)\b\s*([\s\S]*)$/.exec(body);
      const keyword = word?.[1];
      if (keyword === "end" || keyword === "else") {
        if (!nested) throw new Error(`unexpected {{${body}}}`);
        return { nodes, end: i, stop: body };
      }
      if (keyword === "define") {
        const name = JSON.parse(word![2]!.trim()) as string;
        const inner = this.#parse(tokens, i + 1, true);
        if (inner.stop !== "end") throw new Error(`define ${name}: no end`);
        this.#defines.set(name, inner.nodes);
        i = inner.end + 1;
        continue;
      }
      if (keyword === "if") {
        const branches: { cond: string | null; body: Node[] }[] = [];
        let cond: string | null = word![2]!;
        let at = i + 1;
        for (;;) {
          const inner = this.#parse(tokens, at, true);
          branches.push({ cond, body: inner.nodes });
          const stop = inner.stop ?? "";
          at = inner.end + 1;
          if (stop === "end") break;
          const elseIf = /^else\s+if\s+([\s\S]+)$/.exec(stop);
          if (elseIf) { cond = elseIf[1]!; continue; }
          if (stop === "else") { cond = null; continue; }
          throw new Error(`if: unexpected {{${stop}}}`);
        }
        nodes.push({ kind: "if", branches });
        i = at;
        continue;
      }
      if (keyword && ["range", "with", "block", "template", "break", "continue"].includes(keyword)) {
        throw new Error(`{{${keyword}}} is not supported by this renderer: keep the chart's templates simple`);
      }
      nodes.push({ kind: "action", pipe: body });
      i++;
    }
    if (nested) throw new Error("missing {{end}}");
    return { nodes, end: i };
  }

  #exec(nodes: Node[], dot: unknown, root: Context): string {
    let out = "";
    for (const n of nodes) {
      if (n.kind === "text") out += n.text;
      else if (n.kind === "action") out += show(this.#pipeline(n.pipe, dot, root));
      else {
        const branch = n.branches.find((b) => b.cond === null || truthy(this.#pipeline(b.cond, dot, root)));
        if (branch) out += this.#exec(branch.body, dot, root);
      }
    }
    return out;
  }

  #pipeline(source: string, dot: unknown, root: Context): unknown {
    const p = new ExprParser(source);
    const value = this.#evalPipe(p.pipeline(), dot, root);
    p.expectEnd();
    return value;
  }

  #evalPipe(cmds: Expr[][], dot: unknown, root: Context): unknown {
    let piped: unknown = NOTHING;
    for (const cmd of cmds) {
      const [head, ...rest] = cmd;
      if (head?.kind === "ident") {
        const args = rest.map((a) => this.#evalExpr(a, dot, root));
        if (piped !== NOTHING) args.push(piped);
        piped = this.#call(head.name, args, root);
      } else {
        if (cmd.length !== 1 || piped !== NOTHING) throw new Error("a value cannot take arguments");
        piped = this.#evalExpr(head!, dot, root);
      }
    }
    return piped;
  }

  #evalExpr(e: Expr, dot: unknown, root: Context): unknown {
    switch (e.kind) {
      case "lit": return e.value;
      case "field": {
        let v: unknown = e.root === "$" ? root : dot;
        for (const key of e.path) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
        return v;
      }
      case "paren": return this.#evalPipe(e.pipe, dot, root);
      case "ident": return this.#call(e.name, [], root);
    }
  }

  #call(name: string, args: unknown[], root: Context): unknown {
    const a = args;
    const str = (v: unknown) => show(v);
    switch (name) {
      case "include": {
        const nodes = this.#defines.get(str(a[0]));
        if (!nodes) throw new Error(`include: no template '${str(a[0])}'`);
        return this.#exec(nodes, a[1], root);
      }
      case "default": return truthy(a[1]) ? a[1] : a[0];
      case "required": if (!truthy(a[1])) throw new Error(str(a[0])); return a[1];
      case "quote": return JSON.stringify(str(a[0]));
      case "toYaml": return a[0] === undefined || a[0] === null ? "" : stringify(a[0], { lineWidth: 0 }).replace(/\n$/, "");
      case "nindent": return "\n" + indent(Number(a[0]), str(a[1]));
      case "indent": return indent(Number(a[0]), str(a[1]));
      case "trunc": return str(a[1]).slice(0, Number(a[0]));
      case "trimSuffix": { const s = str(a[1]); const suf = str(a[0]); return suf && s.endsWith(suf) ? s.slice(0, -suf.length) : s; }
      case "contains": return str(a[1]).includes(str(a[0]));
      case "lower": return str(a[0]).toLowerCase();
      case "upper": return str(a[0]).toUpperCase();
      case "printf": { let k = 1; return str(a[0]).replace(/%[sdv]/g, () => str(a[k++])); }
      case "not": return !truthy(a[0]);
      case "and": return a.reduce((acc, v) => (truthy(acc) ? v : acc));
      case "or": return a.find(truthy) ?? a.at(-1);
      case "eq": return a.slice(1).some((v) => v === a[0]);
      case "ne": return a[0] !== a[1];
      default: throw new Error(`function '${name}' is not supported by this renderer`);
    }
  }
}

const NOTHING = Symbol("nothing");

/** Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "object") throw new Error("cannot print a map or list: use toYaml");
  return String(v);
}

function indent(n: number, s: string): string {
  const pad = " ".repeat(n);
  return s.split("\n").map((line) => pad + line).join("\n");
}

type Token = { kind: "text" | "action"; text: string };

/** Splits text and {{ actions }}, applying `{{-` and `-}}` trimming and dropping comments. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const re = /\{\{(-\s)?([\s\S]*?)(\s-)?\}\}/g;
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    let text = source.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (m[1]) text = text.replace(/\s+$/, "");
    if (text) tokens.push({ kind: "text", text });
    const body = m[2]!.trim();
    if (!(body.startsWith("/*") && body.endsWith("*/"))) tokens.push({ kind: "action", text: body });
    trimNext = Boolean(m[3]);
    last = re.lastIndex;
  }
  let tail = source.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, "");
  if (tail) tokens.push({ kind: "text", text: tail });
  return tokens;
}

type Expr =
  | { kind: "lit"; value: unknown }
  | { kind: "field"; root: "." | "$"; path: string[] }
  | { kind: "ident"; name: string }
  | { kind: "paren"; pipe: Expr[][] };

class ExprParser {
  #s: string;
  #i = 0;
  constructor(s: string) { this.#s = s; }

  pipeline(): Expr[][] {
    const cmds: Expr[][] = [[]];
    for (;;) {
      this.#skip();
      const c = this.#s[this.#i];
      if (c === undefined || c === ")") break;
      if (c === "|") { this.#i++; cmds.push([]); continue; }
      cmds.at(-1)!.push(this.#operand());
    }
    if (cmds.some((c) => c.length === 0)) throw new Error(`empty command in '${this.#s}'`);
    return cmds;
  }

  expectEnd(): void {
    this.#skip();
    if (this.#i < this.#s.length) throw new Error(`unexpected '${this.#s.slice(this.#i)}' in '${this.#s}'`);
  }

  #skip(): void { while (/\s/.test(this.#s[this.#i] ?? "")) this.#i++; }

  #operand(): Expr {
    const rest = this.#s.slice(this.#i);
    let m: RegExpExecArray | null;
    if (rest[0] === "(") {
      this.#i++;
      const pipe = this.pipeline();
      if (this.#s[this.#i] !== ")") throw new Error(`missing ')' in '${this.#s}'`);
      this.#i++;
      return { kind: "paren", pipe };
    }
    if ((m = /^"(?:[^"\\]|\\.)*"/.exec(rest))) { this.#i += m[0].length; return { kind: "lit", value: JSON.parse(m[0]) }; }
    if ((m = /^-?\d+(\.\d+)?\b/.exec(rest))) { this.#i += m[0].length; return { kind: "lit", value: Number(m[0]) }; }
    if ((m = /^(true|false|nil)\b/.exec(rest))) { this.#i += m[0].length; return { kind: "lit", value: m[1] === "nil" ? null : m[1] === "true" }; }
    if ((m = /^(\$|\.)((?:\.?[A-Za-z_]\w*)*)/.exec(rest)) && m[0].length > 0) {
      this.#i += m[0].length;
      const path = m[2]!.split(".").filter(Boolean);
      return { kind: "field", root: m[1] === "$" ? "$" : ".", path };
    }
    if ((m = /^[A-Za-z_]\w*/.exec(rest))) { this.#i += m[0].length; return { kind: "ident", name: m[0] }; }
    throw new Error(`cannot read '${rest}' in '${this.#s}'`);
  }
}
