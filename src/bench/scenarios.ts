import { readFile } from "node:fs/promises";

export type ScenarioName = "short" | "medium" | "long" | "mixed";
export const scenarioNames: ScenarioName[] = ["short", "medium", "long", "mixed"];

/** One request's prompt, as chat messages. */
export interface BenchPrompt {
  messages: { role: "system" | "user" | "assistant"; content: string }[];
  /** Optional per-prompt output length, from a dataset. */
  maxTokens?: number;
}

const SHORT = [
  "What is the capital of France?",
  "Give me three names for a cat.",
  "Translate 'good morning' into Spanish.",
  "What is 17 times 23?",
  "Name a famous painting by Vermeer.",
  "Suggest a title for a blog post about sourdough.",
];

const PARAGRAPH =
  "The hearth was once the center of every home. Families cooked over it, dried clothes beside it, and gathered " +
  "around it on long winter evenings to talk, mend tools and tell stories. Its fire had to be tended from dawn to night: " +
  "wood split and stacked, ashes raked, embers banked before sleep so that the morning fire could be lit again quickly. ";

/** Deterministic prompt sets of realistic lengths (about 15, 250 and 1,500 prompt tokens). */
function scenario(name: Exclude<ScenarioName, "mixed">, i: number): BenchPrompt {
  switch (name) {
    case "short":
      return { messages: [{ role: "user", content: `${SHORT[i % SHORT.length]} (${i})` }] };
    case "medium":
      return {
        messages: [
          { role: "system", content: "You are a helpful assistant who answers precisely." },
          { role: "user", content: `Request ${i}. Here is some background:\n${PARAGRAPH.repeat(4)}\nSummarize it in two sentences.` },
        ],
      };
    case "long":
      return {
        messages: [
          { role: "system", content: "You are a careful analyst. Read the whole document before answering." },
          { role: "user", content: `Document ${i}:\n${PARAGRAPH.repeat(24)}\nList the chores the document mentions and explain why each mattered.` },
        ],
      };
  }
}

export function scenarioPrompt(name: ScenarioName, i: number): BenchPrompt {
  if (name !== "mixed") return scenario(name, i);
  // 60% short, 30% medium, 10% long, in a fixed order.
  const kind = i % 10 < 6 ? "short" : i % 10 < 9 ? "medium" : "long";
  return scenario(kind, i);
}

/**
 * A JSONL dataset: one request per line, either `{"messages": [...]}` (OpenAI chat format) or
 * `{"prompt": "..."}`, optionally with `"max_tokens"`.
 */
export async function loadDataset(path: string): Promise<BenchPrompt[]> {
  const lines = (await readFile(path, "utf8")).split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new Error(`dataset ${path} is empty`);
  return lines.map((line, n) => {
    let row: { messages?: BenchPrompt["messages"]; prompt?: string; max_tokens?: number };
    try {
      row = JSON.parse(line) as typeof row;
    } catch {
      throw new Error(`dataset ${path} line ${n + 1} is not JSON`);
    }
    const messages = row.messages ?? (typeof row.prompt === "string" ? [{ role: "user" as const, content: row.prompt }] : null);
    if (!Array.isArray(messages) || messages.length === 0) throw new Error(`dataset ${path} line ${n + 1} has neither "messages" nor "prompt"`);
    return { messages, ...(typeof row.max_tokens === "number" ? { maxTokens: row.max_tokens } : {}) };
  });
}
