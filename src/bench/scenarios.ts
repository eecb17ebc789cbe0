import { readFile } from "node:fs/promises";

export type ScenarioName = "short" | "medium" | "long" | "mixed" | "uniform" | "shared-prefix" | "multi-turn";
export const scenarioNames: ScenarioName[] = ["short", "medium", "long", "mixed", "uniform", "shared-prefix", "multi-turn"];

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
function scenario(name: "short" | "medium" | "long", i: number): BenchPrompt {
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

/** Users of the multi-turn scenario: request i is user i % USERS's turn i / USERS. */
export const MULTI_TURN_USERS = 64;
/** About 1,300 tokens of a system prompt every shared-prefix request starts with. */
const SHARED_SYSTEM = `You are the assistant of a hearth-goods shop. Policies follow.\n${PARAGRAPH.repeat(18)}`;

export function scenarioPrompt(name: ScenarioName, i: number): BenchPrompt {
  switch (name) {
    case "uniform":
      // The same length every time, unique from the first token (no prefix to reuse).
      return { messages: [{ role: "user", content: `${i} ${SHORT[i % SHORT.length]!.padEnd(56, ".")}` }] };
    case "shared-prefix":
      return { messages: [{ role: "system", content: SHARED_SYSTEM }, { role: "user", content: `Customer ${i}: ${SHORT[i % SHORT.length]}` }] };
    case "multi-turn":
      return multiTurn(i);
    case "mixed":
      break;
    default:
      return scenario(name, i);
  }
  // 60% short, 30% medium, 10% long, in a fixed order.
  const kind = i % 10 < 6 ? "short" : i % 10 < 9 ? "medium" : "long";
  return scenario(kind, i);
}

/**
 * A user's next turn extends its previous one: the same system prompt and earlier turns, each
 * earlier answer a fixed text (the client does not wait for the real one), then a new question.
 */
function multiTurn(i: number): BenchPrompt {
  const user = i % MULTI_TURN_USERS;
  const turns = Math.floor(i / MULTI_TURN_USERS);
  const messages: BenchPrompt["messages"] = [{ role: "system", content: `User ${user}'s assistant. ${PARAGRAPH}` }];
  for (let t = 0; t <= turns; t++) {
    messages.push({ role: "user", content: `Turn ${t}: ${SHORT[(user + t) % SHORT.length]} ${PARAGRAPH.slice(0, 200)}` });
    if (t < turns) messages.push({ role: "assistant", content: `Answer ${t}: ${PARAGRAPH.slice(0, 160)}` });
  }
  return { messages };
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
