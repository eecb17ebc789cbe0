/**
 * Streams one reply's text to stdout as it comes, through Anthropic's SDK, unchanged.
 *
 *   node examples/anthropic-stream.ts "Write a haiku about the sea."
 *
 * HEARTH_URL (default http://127.0.0.1:8000), HEARTH_API_KEY (default "none"), HEARTH_MODEL
 * (default "hearth-demo", the built-in demo model).
 */
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ baseURL: process.env.HEARTH_URL ?? "http://127.0.0.1:8000", apiKey: process.env.HEARTH_API_KEY ?? "none" });
const prompt = process.argv[2] ?? "Write a haiku about the sea.";

const stream = client.messages.stream({ model: process.env.HEARTH_MODEL ?? "hearth-demo", max_tokens: 256, messages: [{ role: "user", content: prompt }] });
stream.on("text", (text) => process.stdout.write(text));
const message = await stream.finalMessage();
process.stdout.write(`\n[${message.stop_reason}: ${message.usage.output_tokens} tokens]\n`);
