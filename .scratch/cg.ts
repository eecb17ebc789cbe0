import { checkGgufFile } from "../src/models/gguf/checkGgufFile.ts";
for (let i = 0; i < 3; i++) { const t = performance.now(); await checkGgufFile(process.argv[2]!); console.log("checkGgufFile", Math.round(performance.now() - t)); }
