/**
 * An interactive chat with Hearth through Anthropic's SDK, unchanged: each line read from stdin is
 * a user turn; the conversation is kept, and each reply is printed on its own line. Ends at EOF.
 *
 *   node examples/anthropic-chat.ts
 *
 * HEARTH_URL (default http://127.0.0.1:8000), HEARTH_API_KEY (default "none": a server without
 * auth), HEARTH_MODEL (default "hearth-demo", the built-in demo model).
 */
import { createInterface } from "node:readline";
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ baseURL: process.env.HEARTH_URL ?? "http://127.0.0.1:8000", apiKey: process.env.HEARTH_API_KEY ?? "none" });
const model = process.env.HEARTH_MODEL ?? "hearth-demo";
const messages: Anthropic.MessageParam[] = [];

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "") continue;
  messages.push({ role: "user", content: line });
  const reply = await client.messages.create({ model, max_tokens: 256, messages });
  // The whole reply goes back into the conversation, thinking and all, as Anthropic asks.
  messages.push({ role: "assistant", content: reply.content });
  const text = reply.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
  console.log(`assistant: ${text.replaceAll("\n", " ")}`);
}
