import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

/**
 * Conformance to Anthropic's published types: every JSON object Hearth sent (a Message, a stream
 * event, a token count, an error body) is written as a typed constant of the official SDK's type
 * and type-checked by the repository's tsc. An object literal assigned to a type gets TypeScript's
 * strictest check: every required field present, literal types (`"message"`, `"end_turn"`)
 * matched, nulls only where the type allows them, and no field the type does not name (excess
 * property check). Nothing is translated: the SDK's .d.ts files are the schema.
 */
export type SdkType = "Message" | "RawMessageStreamEvent" | "MessageTokensCount" | "ErrorResponse";

const root = resolve(import.meta.dirname, "..", "..");
const sdk = join(root, "node_modules", "@anthropic-ai", "sdk");
const FROM: Record<SdkType, string> = {
  Message: "resources/messages/messages.js", RawMessageStreamEvent: "resources/messages/messages.js",
  MessageTokensCount: "resources/messages/messages.js", ErrorResponse: "resources/shared.js",
};

export class SdkConformance {
  readonly #values: { type: SdkType; value: unknown; label: string }[] = [];

  /** Keeps `value` (received as `label`) to check against the SDK's `type`. */
  add(type: SdkType, value: unknown, label: string): void {
    this.#values.push({ type, value, label });
  }

  get size(): number { return this.#values.length; }

  /** Type-checks everything kept; rejects with tsc's messages, each naming the label of what failed. */
  async check(): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "hearth-sdk-types-"));
    try {
      const types = [...new Set(this.#values.map((v) => v.type))];
      const imports = types.map((t) => `import type { ${t} } from ${JSON.stringify(join(sdk, FROM[t]))};`);
      const body = this.#values.map((v, i) => `// ${v.label.replaceAll("\n", " ")}\nexport const v${i}: ${v.type} = ${JSON.stringify(v.value, null, 1)};`);
      const file = join(dir, "received.ts");
      await writeFile(file, [...imports, ...body].join("\n") + "\n");
      const tsc = join(root, "node_modules", ".bin", "tsc");
      const args = ["--noEmit", "--strict", "--skipLibCheck", "--target", "es2024", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node", "--typeRoots", join(root, "node_modules", "@types"), file];
      try {
        await promisify(execFile)(tsc, args, { cwd: dir });
      } catch (err) {
        const out = String((err as { stdout?: string }).stdout ?? err);
        const labels = [...out.matchAll(/received\.ts\((\d+),/g)].map((m) => labelAt(this.#values, body, Number(m[1]) - imports.length));
        throw new Error(`Hearth's objects do not conform to @anthropic-ai/sdk's types:\n${out}\nIn: ${[...new Set(labels)].join("; ")}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** The label of the value whose text holds line `line` (1-based, after the imports). */
function labelAt(values: readonly { label: string }[], body: readonly string[], line: number): string {
  let at = 0;
  for (let i = 0; i < body.length; i++) {
    at += body[i]!.split("\n").length;
    if (line <= at) return values[i]!.label;
  }
  return "?";
}
