const t0 = performance.now();
const lap = (what: string) => console.log(Math.round(performance.now() - t0), what);
const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
lap("imported");
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.debug, logger: (l, m) => lap(`[${l}] ${m.trim().slice(0, 100)}`) });
lap("getLlama");
const model = await llama.loadModel({ modelPath: process.argv[2]! });
lap("loadModel");
