#!/usr/bin/env node
// Plain JavaScript so that an old Node.js can still read it and say what is wrong: the rest of
// Hearth is TypeScript that Node.js 26 runs directly.
const REQUIRED_MAJOR = 26;
if (Number(process.versions.node.split(".")[0]) < REQUIRED_MAJOR) {
  console.error(
    `hearth needs Node.js ${REQUIRED_MAJOR}; this is ${process.version}. ` +
      "Run it through npm (npm start, npx hearth), which uses the Node.js pinned in package.json.",
  );
  process.exit(1);
}
await import("../src/cli/main.ts");
