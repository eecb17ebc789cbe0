/**
 * An interactive chat with Hearth through Ollama's client (`ollama` on npm), unchanged: each line
 * read from stdin is a user turn; the conversation is kept, and each reply is printed on its own
 * line. Ends at EOF.
 *
 *   node examples/ollama-chat.ts
 *
 * HEARTH_URL (default http://127.0.0.1:8000; or Hearth's Ollama port, e.g. http://127.0.0.1:11434),
 * HEARTH_API_KEY (optional, sent as a bearer token), HEARTH_MODEL (default "hearth-demo", the
 * built-in demo model).
 */
import { createInterface } from "node:readline";
import { Ollama, type Message } from "ollama";

const key = process.env.HEARTH_API_KEY;
const ollama = new Ollama({ host: process.env.HEARTH_URL ?? "http://127.0.0.1:8000", ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}) });
const model = process.env.HEARTH_MODEL ?? "hearth-demo";
const messages: Message[] = [];

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "") continue;
  messages.push({ role: "user", content: line });
  // A bound on the reply: the demo model's random weights would otherwise talk until its context is full.
  const reply = await ollama.chat({ model, messages, options: { num_predict: 256 } });
  messages.push(reply.message);
  console.log(`assistant: ${reply.message.content.replaceAll("\n", " ")}`);
}
