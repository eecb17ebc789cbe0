const t0 = performance.now();
const lap = (what: string) => console.log(what, Math.round(performance.now() - t0));
const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.warn });
lap("getLlama");
const opts = process.argv[3] === "0" ? { gpuLayers: 0 } : process.argv[3] === "ignore" ? { gpuLayers: 0, ignoreMemorySafetyChecks: true } : {};
const model = await llama.loadModel({ modelPath: process.argv[2]!, ...opts });
lap("loadModel " + JSON.stringify(opts));
