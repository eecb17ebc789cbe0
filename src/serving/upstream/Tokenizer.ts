import type { LlamaModel } from "node-llama-cpp";

/**
 * A GGUF file's tokenizer alone (llama.cpp's vocab-only load: no weights in memory), to count the
 * tokens of an upstream model that reports no usage. Loaded on first use.
 */
export class Tokenizer {
  readonly #path: string;
  #model: Promise<LlamaModel> | null = null;

  constructor(path: string) {
    this.#path = path;
  }

  async count(text: string): Promise<number> {
    this.#model ??= (async () => {
      const { getLlama } = await import("node-llama-cpp");
      const llama = await getLlama({ gpu: false, build: "never" });
      return llama.loadModel({ modelPath: this.#path, vocabOnly: true });
    })();
    return (await this.#model).tokenize(text).length;
  }

  async close(): Promise<void> {
    await (await this.#model?.catch(() => null))?.dispose();
  }
}
