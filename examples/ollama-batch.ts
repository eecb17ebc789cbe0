/**
 * Several prompts at once through Ollama's client: they are sent concurrently (Hearth batches them
 * on the model), and each answer is printed as one JSON line, in the prompts' order.
 *
 *   node examples/ollama-batch.ts "Name a colour." "Name a fruit." "Name a river."
 *
 * HEARTH_URL (default http://127.0.0.1:8000), HEARTH_API_KEY (optional), HEARTH_MODEL (default
 * "hearth-demo").
 */
import { Ollama } from "ollama";

const key = process.env.HEARTH_API_KEY;
const ollama = new Ollama({ host: process.env.HEARTH_URL ?? "http://127.0.0.1:8000", ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}) });
const model = process.env.HEARTH_MODEL ?? "hearth-demo";
const prompts = process.argv.length > 2 ? process.argv.slice(2) : ["Name a colour.", "Name a fruit.", "Name a river."];

const answers = await Promise.all(prompts.map((prompt) => ollama.generate({ model, prompt, options: { num_predict: 64 } })));
for (const [i, a] of answers.entries()) {
  console.log(JSON.stringify({ prompt: prompts[i], response: a.response, done_reason: a.done_reason, eval_count: a.eval_count }));
}
