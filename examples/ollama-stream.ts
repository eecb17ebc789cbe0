/**
 * Streams one reply's text to stdout as it is generated, through Ollama's client, then how it ended.
 *
 *   node examples/ollama-stream.ts "Why is the sky blue?"
 *
 * HEARTH_URL (default http://127.0.0.1:8000), HEARTH_API_KEY (optional), HEARTH_MODEL (default
 * "hearth-demo").
 */
import { Ollama } from "ollama";

const key = process.env.HEARTH_API_KEY;
const ollama = new Ollama({ host: process.env.HEARTH_URL ?? "http://127.0.0.1:8000", ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}) });
const model = process.env.HEARTH_MODEL ?? "hearth-demo";
const prompt = process.argv.slice(2).join(" ") || "Why is the sky blue?";

const stream = await ollama.chat({ model, messages: [{ role: "user", content: prompt }], stream: true, options: { num_predict: 256 } });
for await (const piece of stream) {
  process.stdout.write(piece.message.content);
  if (piece.done) process.stdout.write(`\n[${piece.done_reason}: ${piece.eval_count} tokens]\n`);
}
