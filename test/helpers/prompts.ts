/**
 * Token counts worked out by hand for the `tiny` model, whose vocabulary is one token per UTF-8
 * byte plus the Llama 3 special tokens, under the Llama 3 Instruct template:
 * BOS, then per message <|start_header_id|> role <|end_header_id|> "\n\n" content <|eot_id|>,
 * then <|start_header_id|> "assistant" <|end_header_id|> "\n\n".
 */
export function tinyChatPromptTokens(messages: { role: string; content: string }[]): number {
  const bytes = (s: string) => Buffer.byteLength(s, "utf8");
  const perMessage = messages.reduce((n, m) => n + 1 + bytes(m.role) + 1 + 2 + bytes(m.content.trim()) + 1, 0);
  return 1 + perMessage + 1 + bytes("assistant") + 1 + 2;
}

/** A raw completion prompt on the `tiny` model: BOS plus one token per byte. */
export function tinyTextPromptTokens(text: string): number {
  return 1 + Buffer.byteLength(text, "utf8");
}
