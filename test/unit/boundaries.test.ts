import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

/**
 * The shape the code keeps as it grows: folders import each other one way only (the request flows
 * one way), files stay small, and benchmarks stand on src/ alone.
 */
const root = resolve(import.meta.dirname, "..", "..");
const src = join(root, "src");
const MAX_LINES = 400;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tsFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Relative imports of a file, resolved: static, type-only and dynamic ones. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => resolve(dirname(file), m[1]!));
}

/** src/<folder>/..., or "src" for the files at its top (errors.ts). */
const folderOf = (file: string) => {
  const parts = relative(src, file).split("/");
  return parts.length > 1 ? parts[0]! : "src";
};

test("src/ folders import each other without a cycle", () => {
  const edges = new Map<string, Map<string, string>>();
  for (const file of tsFiles(src)) {
    for (const target of importsOf(file)) {
      if (!target.startsWith(src + "/")) continue;
      const [from, to] = [folderOf(file), folderOf(target)];
      if (from === to) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, `${relative(root, file)} imports ${relative(root, target)}`);
    }
  }
  // Depth-first: a folder met again while on the path closes a cycle; each one found is reported with the imports that make it.
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (folder: string) => {
    state.set(folder, "open");
    path.push(folder);
    for (const next of edges.get(folder)?.keys() ?? []) {
      if (state.get(next) === "open") {
        const loop = [...path.slice(path.indexOf(next)), next];
        cycles.push(loop.slice(1).map((to, i) => edges.get(loop[i]!)!.get(to)!).join("; "));
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(folder, "done");
  };
  for (const folder of edges.keys()) if (!state.has(folder)) visit(folder);
  assert.deepEqual(cycles, []);
});

test(`no file in src/ is over ${MAX_LINES} lines`, () => {
  const long = tsFiles(src).map((f) => [relative(root, f), readFileSync(f, "utf8").split("\n").length - 1] as const).filter(([, n]) => n > MAX_LINES);
  assert.deepEqual(long, []);
});

test("benchmarks import src/ and each other, never tests", () => {
  const bench = join(root, "bench");
  const wrong = tsFiles(bench).flatMap((f) => importsOf(f).filter((t) => t.startsWith(join(root, "test") + "/")).map((t) => `${relative(root, f)} imports ${relative(root, t)}`));
  assert.deepEqual(wrong, []);
});

test("npm test runs every test file: each folder of tests is in test:fast or test:e2e, and test:fast starts no runner", () => {
  const { scripts } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const folders = (script: string) => /test\/\{([^}]+)\}\/\*\.test\.ts/.exec(scripts[script]!)![1]!.split(",");
  const [fast, e2e] = [folders("test:fast"), folders("test:e2e")];
  assert.match(scripts.test!, /npm run test:fast && npm run test:e2e/);
  const withTests = readdirSync(join(root, "test")).filter((d) => statSync(join(root, "test", d)).isDirectory() && readdirSync(join(root, "test", d)).some((f) => f.endsWith(".test.ts")));
  assert.deepEqual([...fast, ...e2e].sort(), withTests.sort(), "each folder of tests in exactly one group");
  // The fast group runs two files at once: a test there that started a runner (its llama.cpp
  // threads) would oversubscribe the cores. Its servers serve the fake model or upstream ones only.
  const startsRunner = (text: string) => {
    if (/serveProcess|RunnerEngine|LlamaCppEngine/.test(text)) return true;
    const name = /import \{[^}]*\bstartServer(?: as (\w+))?[^}]*\} from "\.\.\/helpers\/server\.ts"/.exec(text);
    const calls = name ? [...text.matchAll(new RegExp(`\\b${name[1] ?? "startServer"}\\(([\\s\\S]{0,60})`, "g"))] : [];
    return calls.some((m) => !/fake: (true|\{)|modelPath: null/.test(m[1]!));
  };
  const real = fast.flatMap((d) => tsFiles(join(root, "test", d)).filter((f) => f.endsWith(".test.ts") && f !== import.meta.filename))
    .filter((f) => startsRunner(readFileSync(f, "utf8")))
    .map((f) => relative(root, f));
  assert.deepEqual(real, []);
});
