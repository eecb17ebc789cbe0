// Streams one chat completion to stdout as its tokens arrive.
//   HEARTH_URL=http://127.0.0.1:8000 node examples/openai-stream.ts "Tell me about hearths"
import OpenAI from "openai";

const client = new OpenAI({ baseURL: `${process.env.HEARTH_URL ?? "http://127.0.0.1:8000"}/v1`, apiKey: process.env.HEARTH_API_KEY ?? "none" });
const stream = await client.chat.completions.create({
  model: process.env.HEARTH_MODEL ?? "hearth-demo",
  messages: [{ role: "user", content: process.argv[2] ?? "Tell me about hearths." }],
  max_tokens: Number(process.env.HEARTH_MAX_TOKENS ?? 200),
  stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  process.stdout.write(chunk.choices[0]?.delta.content ?? "");
  if (chunk.usage) process.stderr.write(`\n[${chunk.usage.prompt_tokens} prompt + ${chunk.usage.completion_tokens} completion tokens]\n`);
}
process.stdout.write("\n");
