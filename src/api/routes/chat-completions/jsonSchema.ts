import { errors } from "../../../errors.ts";

/**
 * Checks a JSON schema against what node-llama-cpp's grammar generator (createGrammarForJsonSchema,
 * its GbnfJsonSchema type) can express, and returns the schema as it is to be compiled. Any keyword
 * the grammar would not enforce is refused with a 400 naming it in `param`, never ignored: output
 * built from an accepted schema always validates against it.
 *
 * What is enforced, per the branch the generator takes (first that applies):
 * - `$ref` (`#/$defs/<name>`, defined in scope), with `$defs`;
 * - `anyOf` / `oneOf` (alternatives: one of them is generated; `anyOf` is compiled as `oneOf`);
 * - `const`, `enum` (strings, numbers, booleans, null; `type` may repeat their type);
 * - `type: "object"`: `properties`, `required` (every property is always generated, so `required`
 *   may name any of them), `additionalProperties` (boolean or schema; absent means none are
 *   generated), `minProperties`, `maxProperties`, `$defs`;
 * - `type: "array"`: `items`, `prefixItems`, `minItems`, `maxItems`, `$defs`;
 * - `type: "string"`: `minLength`, `maxLength`, or `format` (`date-time`, `date`, `time`) alone;
 * - `type` `number`, `integer`, `boolean`, `null`, or a list of these (no bounds, except an integer
 *   between two bounds at most 1024 values apart, generated as the enum of its values);
 * - annotations anywhere: `title`, `description`, `$comment`, `examples`, `default`, and `$schema`,
 *   `$id` at the root. An empty schema generates `null`.
 */
/** `minRepeat`: llama.cpp's grammar parser refuses more repetitions (and prints the whole grammar to stderr). */
export const SCHEMA_LIMITS = { maxBytes: 64 * 1024, maxDepth: 16, minRepeat: 2000 } as const;

const ANNOTATIONS = new Set(["title", "description", "$comment", "examples", "default"]);
const ROOT_ONLY = new Set(["$schema", "$id"]);
const PRIMITIVES = new Set(["string", "number", "integer", "boolean", "null"]);
const FORMATS = new Set(["date-time", "date", "time"]);

type Json = Record<string, unknown>;

export function checkJsonSchema(schema: unknown, param: string): object {
  const text = JSON.stringify(schema) ?? "";
  if (text.length > SCHEMA_LIMITS.maxBytes) {
    throw errors.invalidRequest(`The JSON schema is ${text.length} bytes long; at most ${SCHEMA_LIMITS.maxBytes} are accepted.`, param);
  }
  return walk(schema, param, 0, new Set(), true) as object;
}

function isObject(x: unknown): x is Json {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function fail(message: string, param: string): never {
  throw errors.invalidRequest(message, param);
}

function unsupported(keyword: string, param: string, why = "it cannot be enforced by the output grammar"): never {
  throw errors.unsupported(`The JSON schema keyword '${keyword}' is not supported here: ${why}.`, param);
}

function nonNegativeInt(x: unknown, param: string): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0) fail("Expected a non-negative integer.", param);
  return x;
}

/** A lower bound (minItems, minLength): the grammar spells out each required repetition. */
function minimum(x: unknown, param: string): number {
  const n = nonNegativeInt(x, param);
  if (n > SCHEMA_LIMITS.minRepeat) fail(`'${param.split(".").pop()}' is ${n}; an output grammar can require at most ${SCHEMA_LIMITS.minRepeat} repetitions.`, param);
  return n;
}

/** Returns the schema to compile (anyOf renamed to oneOf); `defs` are the $defs names in scope. */
function walk(schema: unknown, at: string, depth: number, defsInScope: ReadonlySet<string>, root = false): unknown {
  if (depth > SCHEMA_LIMITS.maxDepth) fail(`The JSON schema nests deeper than ${SCHEMA_LIMITS.maxDepth} levels.`, at);
  if (!isObject(schema)) fail("A JSON schema must be an object.", at);
  const s = schema;
  const p = (k: string) => `${at}.${k}`;
  let defs = defsInScope;
  const out: Json = {};
  const allow = (allowed: readonly string[]) => {
    for (const k of Object.keys(s)) {
      if (allowed.includes(k) || ANNOTATIONS.has(k) || (root && ROOT_ONLY.has(k))) continue;
      unsupported(k, p(k), `with ${branchName(s)} it cannot be enforced by the output grammar`);
    }
  };
  if (s.description !== undefined) {
    if (typeof s.description !== "string") fail("'description' must be a string.", p("description"));
    out.description = s.description;
  }
  const takeDefs = () => {
    if (s.$defs === undefined) return;
    if (!isObject(s.$defs)) fail("'$defs' must be an object of schemas.", p("$defs"));
    const names = new Set(defs);
    for (const k of Object.keys(s.$defs)) names.add(k);
    defs = names;
    out.$defs = Object.fromEntries(Object.entries(s.$defs).map(([k, v]) => [k, walk(v, `${p("$defs")}.${k}`, depth + 1, defs)]));
  };

  if (s.$ref !== undefined) {
    allow(["$ref", "$defs"]);
    takeDefs();
    const ref = s.$ref;
    if (typeof ref !== "string" || !ref.startsWith("#/$defs/")) unsupported("$ref", p("$ref"), "only references of the form '#/$defs/<name>' are");
    if (!defs.has(ref.slice("#/$defs/".length))) fail(`'${ref}' does not name a definition in '$defs'.`, p("$ref"));
    return { ...out, $ref: ref };
  }
  if (s.anyOf !== undefined || s.oneOf !== undefined) {
    if (s.anyOf !== undefined && s.oneOf !== undefined) unsupported("oneOf", p("oneOf"), "'anyOf' and 'oneOf' cannot be combined");
    const key = s.anyOf !== undefined ? "anyOf" : "oneOf";
    allow([key, "$defs"]);
    takeDefs();
    const list = s[key];
    if (!Array.isArray(list) || list.length === 0) fail(`'${key}' must be a non-empty array of schemas.`, p(key));
    return { ...out, oneOf: list.map((alt, i) => walk(alt, `${p(key)}.[${i}]`, depth + 1, defs)) };
  }
  if (s.const !== undefined || s.enum !== undefined) {
    const key = s.const !== undefined ? "const" : "enum";
    allow([key, "type"]);
    const values = key === "const" ? [s.const] : s.enum;
    if (!Array.isArray(values) || values.length === 0) fail("'enum' must be a non-empty array.", p(key));
    values.forEach((v, i) => {
      if (v !== null && !["string", "number", "boolean"].includes(typeof v)) unsupported(key, key === "enum" ? `${p(key)}.[${i}]` : p(key), "only strings, numbers, booleans and null are");
      if (s.type !== undefined && !typeMatches(s.type, v)) fail(`The value ${JSON.stringify(v)} does not match 'type'.`, p(key));
    });
    return { ...out, [key]: key === "const" ? s.const : values };
  }
  const type = s.type;
  if (type === "object") {
    allow(["type", "properties", "required", "additionalProperties", "minProperties", "maxProperties", "$defs"]);
    takeDefs();
    const props: Json = {};
    if (s.properties !== undefined) {
      if (!isObject(s.properties)) fail("'properties' must be an object of schemas.", p("properties"));
      for (const [k, v] of Object.entries(s.properties)) props[k] = walk(v, `${p("properties")}.${k}`, depth + 1, defs);
    }
    const count = Object.keys(props).length;
    if (s.required !== undefined) {
      if (!Array.isArray(s.required)) fail("'required' must be an array of property names.", p("required"));
      s.required.forEach((k, i) => {
        if (typeof k !== "string" || !(k in props)) fail(`'required' names '${String(k)}', which is not in 'properties'.`, `${p("required")}.[${i}]`);
      });
    }
    let additional: unknown;
    if (s.additionalProperties !== undefined) {
      additional = typeof s.additionalProperties === "boolean" ? s.additionalProperties : walk(s.additionalProperties, p("additionalProperties"), depth + 1, defs);
    }
    const open = additional !== undefined && additional !== false;
    if (s.minProperties !== undefined) {
      const min = nonNegativeInt(s.minProperties, p("minProperties"));
      if (min > count && !open) unsupported("minProperties", p("minProperties"), "it exceeds the properties and no 'additionalProperties' are allowed");
    }
    if (s.maxProperties !== undefined) {
      const max = nonNegativeInt(s.maxProperties, p("maxProperties"));
      if (max < count) unsupported("maxProperties", p("maxProperties"), "every property in 'properties' is always generated, so it must be at least their number");
      if (s.minProperties !== undefined && (s.minProperties as number) > max) fail("'minProperties' exceeds 'maxProperties'.", p("minProperties"));
    }
    return {
      ...out, type, properties: props,
      ...(additional !== undefined ? { additionalProperties: additional } : {}),
      ...(s.minProperties !== undefined ? { minProperties: s.minProperties } : {}),
      ...(s.maxProperties !== undefined ? { maxProperties: s.maxProperties } : {}),
    };
  }
  if (type === "array") {
    allow(["type", "items", "prefixItems", "minItems", "maxItems", "$defs"]);
    takeDefs();
    let items: unknown;
    if (s.items !== undefined) {
      if (typeof s.items === "boolean") unsupported("items", p("items"), "it must be a schema");
      if (Array.isArray(s.items)) unsupported("items", p("items"), "tuples are written with 'prefixItems'");
      items = walk(s.items, p("items"), depth + 1, defs);
    }
    let prefix: unknown[] | undefined;
    if (s.prefixItems !== undefined) {
      if (!Array.isArray(s.prefixItems)) fail("'prefixItems' must be an array of schemas.", p("prefixItems"));
      prefix = s.prefixItems.map((it, i) => walk(it, `${p("prefixItems")}.[${i}]`, depth + 1, defs));
    }
    const min = s.minItems !== undefined ? minimum(s.minItems, p("minItems")) : undefined;
    const max = s.maxItems !== undefined ? nonNegativeInt(s.maxItems, p("maxItems")) : undefined;
    if (max !== undefined && prefix && max < prefix.length) unsupported("maxItems", p("maxItems"), "it must be at least the length of 'prefixItems'");
    if (max !== undefined && min !== undefined && min > max) fail("'minItems' exceeds 'maxItems'.", p("minItems"));
    return {
      ...out, type,
      ...(items !== undefined ? { items } : {}), ...(prefix ? { prefixItems: prefix } : {}),
      ...(min !== undefined ? { minItems: min } : {}), ...(max !== undefined ? { maxItems: max } : {}),
    };
  }
  if (type === "string" && s.format !== undefined) {
    allow(["type", "format"]);
    if (typeof s.format !== "string" || !FORMATS.has(s.format)) unsupported("format", p("format"), `only ${[...FORMATS].join(", ")} are`);
    return { ...out, type, format: s.format };
  }
  if (type === "string") {
    allow(["type", "minLength", "maxLength"]);
    const min = s.minLength !== undefined ? minimum(s.minLength, p("minLength")) : undefined;
    const max = s.maxLength !== undefined ? nonNegativeInt(s.maxLength, p("maxLength")) : undefined;
    if (min !== undefined && max !== undefined && min > max) fail("'minLength' exceeds 'maxLength'.", p("minLength"));
    return { ...out, type, ...(min !== undefined ? { minLength: min } : {}), ...(max !== undefined ? { maxLength: max } : {}) };
  }
  if (type === "integer" && ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"].some((k) => s[k] !== undefined)) {
    return { ...out, enum: integerRange(s, p) };
  }
  allow(["type"]);
  if (type === undefined) return out;
  const types = Array.isArray(type) ? type : [type];
  if (types.length === 0) fail("'type' must not be empty.", p("type"));
  types.forEach((t, i) => {
    if (typeof t !== "string" || !PRIMITIVES.has(t)) {
      if (t === "object" || t === "array") unsupported("type", Array.isArray(type) ? `${p("type")}.[${i}]` : p("type"), `'${t}' is only supported as the single type of a schema`);
      fail(`Unknown type ${JSON.stringify(t)}.`, p("type"));
    }
  });
  return { ...out, type };
}

/** The largest bounded integer range enforced, as an enum of its values. */
const MAX_INTEGER_RANGE = 1024;

/**
 * The grammar has no numeric bounds, but a bounded integer is a finite set: `{type: integer,
 * minimum: 1, maximum: 7}` (what zod's `.int().min(1).max(7)` writes) is generated as the enum 1..7,
 * which the grammar enforces exactly. Open or wide ranges are refused.
 */
function integerRange(s: Json, p: (k: string) => string): number[] {
  for (const k of Object.keys(s)) {
    if (!["type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"].includes(k) && !ANNOTATIONS.has(k)) unsupported(k, p(k));
  }
  const bound = (k: string) => {
    const v = s[k];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v))) fail(`'${k}' must be a number.`, p(k));
    return v as number | undefined;
  };
  const [min, max, xmin, xmax] = [bound("minimum"), bound("maximum"), bound("exclusiveMinimum"), bound("exclusiveMaximum")];
  const lo = Math.max(min !== undefined ? Math.ceil(min) : -Infinity, xmin !== undefined ? Math.floor(xmin) + 1 : -Infinity);
  const hi = Math.min(max !== undefined ? Math.floor(max) : Infinity, xmax !== undefined ? Math.ceil(xmax) - 1 : Infinity);
  const keyword = min !== undefined || xmin !== undefined ? (max !== undefined ? "maximum" : "exclusiveMaximum") : "minimum";
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi - lo + 1 > MAX_INTEGER_RANGE) {
    unsupported(s[keyword] !== undefined ? keyword : "minimum", p(s[keyword] !== undefined ? keyword : "minimum"), `an integer is enforced only between two bounds at most ${MAX_INTEGER_RANGE} values apart`);
  }
  if (lo > hi) fail("The integer bounds leave no value.", p("minimum"));
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

function branchName(s: Json): string {
  if (s.$ref !== undefined) return "'$ref'";
  if (s.anyOf !== undefined) return "'anyOf'";
  if (s.oneOf !== undefined) return "'oneOf'";
  if (s.const !== undefined) return "'const'";
  if (s.enum !== undefined) return "'enum'";
  if (typeof s.type === "string") return `type '${s.type}'${s.type === "string" && s.format !== undefined ? " and 'format'" : ""}`;
  if (s.type !== undefined) return "this 'type'";
  return "no 'type'";
}

function typeMatches(type: unknown, v: unknown): boolean {
  const types = Array.isArray(type) ? type : [type];
  return types.some((t) =>
    t === "null" ? v === null
      : t === "integer" ? Number.isInteger(v)
        : t === "number" ? typeof v === "number"
          : t === "string" || t === "boolean" ? typeof v === t
            : false);
}
