/**
 * Asks several prompts at once through Anthropic's SDK, unchanged (Hearth batches them on its
 * slots), and prints one JSON line per answer, in the prompts' order.
 *
 *   node examples/anthropic-batch.ts "First prompt" "Second prompt" ...
 *
 * HEARTH_URL (default http://127.0.0.1:8000), HEARTH_API_KEY (default "none"), HEARTH_MODEL
 * (default "hearth-demo", the built-in demo model).
 */
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ baseURL: process.env.HEARTH_URL ?? "http://127.0.0.1:8000", apiKey: process.env.HEARTH_API_KEY ?? "none" });
const model = process.env.HEARTH_MODEL ?? "hearth-demo";
const prompts = process.argv.length > 2 ? process.argv.slice(2) : ["Name a colour.", "Name a fruit.", "Name a river."];

const answers = await Promise.all(prompts.map((prompt) => client.messages.create({ model, max_tokens: 64, messages: [{ role: "user", content: prompt }] })));
answers.forEach((m, i) => {
  const text = m.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
  console.log(JSON.stringify({ prompt: prompts[i], text, stop_reason: m.stop_reason, output_tokens: m.usage.output_tokens }));
});
