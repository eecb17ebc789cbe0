// An interactive chat through OpenAI's Responses API: each line you type is a turn, and the server
// keeps the conversation (previous_response_id), so only the new line is sent.
//   HEARTH_URL=http://127.0.0.1:8000 node examples/openai-chat.ts
import { createInterface } from "node:readline";
import OpenAI from "openai";

const client = new OpenAI({ baseURL: `${process.env.HEARTH_URL ?? "http://127.0.0.1:8000"}/v1`, apiKey: process.env.HEARTH_API_KEY ?? "none" });
const model = process.env.HEARTH_MODEL ?? "hearth-demo";
const maxTokens = Number(process.env.HEARTH_MAX_TOKENS ?? 200);

let previous: string | undefined;
const lines = createInterface({ input: process.stdin, terminal: false });
if (process.stdin.isTTY) process.stdout.write("> ");
for await (const line of lines) {
  if (!line.trim()) continue;
  const response = await client.responses.create({
    model, input: line, max_output_tokens: maxTokens, instructions: "You are a helpful assistant.",
    ...(previous ? { previous_response_id: previous } : {}),
  });
  previous = response.id;
  console.log(`assistant: ${response.output_text}`);
  if (process.stdin.isTTY) process.stdout.write("> ");
}
