import { startServer } from "../test/helpers/server.ts";
let t = performance.now();
const s = await startServer({ fake: true });
console.log("start", performance.now() - t);
t = performance.now();
await s.close();
console.log("close", performance.now() - t);
