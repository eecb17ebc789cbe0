import { registerHooks } from "node:module";
const t0 = performance.now();
const seen = [];
registerHooks({ load(url, context, next) { const s = performance.now(); const r = next(url, context); seen.push([url, performance.now() - s]); return r; } });
process.on("exit", () => {
  const byPkg = new Map();
  for (const [u, t] of seen) { const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u); const k = m ? m[1] : u.includes("/src/") ? "src" : u.slice(0, 30); byPkg.set(k, (byPkg.get(k) ?? [0, 0])); byPkg.get(k)[0]++; }
  console.error("modules", seen.length, "total ms", Math.round(performance.now() - t0));
  console.error([...byPkg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25).map(([k, v]) => `${v[0]} ${k}`).join("\n"));
});
