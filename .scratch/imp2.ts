const t = performance.now();
await import("../src/engine/llamacpp/LlamaCppEngine.ts");
console.log("runner imports", Math.round(performance.now() - t));
