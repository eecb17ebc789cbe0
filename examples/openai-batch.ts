// Answers many prompts at once (the server batches them): one prompt per line on stdin, one JSON
// line per answer on stdout, in input order.
//   printf 'What is a hearth?\nWhat is a flue?\n' | node examples/openai-batch.ts
import { createInterface } from "node:readline";
import OpenAI from "openai";

const client = new OpenAI({ baseURL: `${process.env.HEARTH_URL ?? "http://127.0.0.1:8000"}/v1`, apiKey: process.env.HEARTH_API_KEY ?? "none" });
const model = process.env.HEARTH_MODEL ?? "hearth-demo";
const prompts: string[] = [];
for await (const line of createInterface({ input: process.stdin, terminal: false })) if (line.trim()) prompts.push(line);

const answers = await Promise.all(prompts.map(async (prompt) => {
  const completion = await client.chat.completions.create({
    model, messages: [{ role: "user", content: prompt }], max_tokens: Number(process.env.HEARTH_MAX_TOKENS ?? 100),
  });
  return { prompt, answer: completion.choices[0]!.message.content, tokens: completion.usage?.completion_tokens };
}));
for (const a of answers) console.log(JSON.stringify(a));
