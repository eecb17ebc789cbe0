/**
 * Reranking with Hearth: scores a few documents for a query with a reranker model and prints the
 * best three, best first. Plain fetch: rerankers have no official SDK.
 *
 *   HEARTH_URL      the server (default http://127.0.0.1:8000)
 *   HEARTH_API_KEY  a key, when the server has auth on
 *   HEARTH_MODEL    a reranker model (default `reranker`; `hearth gen-model --preset reranker` makes one)
 *
 * Run: node examples/rerank.ts
 */
interface RerankResponse {
  model: string;
  results: { index: number; relevance_score: number; document?: { text: string } }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

interface ErrorResponse {
  error: { message: string; code: string };
}

const url = (process.env.HEARTH_URL ?? "http://127.0.0.1:8000").replace(/\/+$/, "");
const model = process.env.HEARTH_MODEL ?? "reranker";
const key = process.env.HEARTH_API_KEY;

const query = "What is the capital of France?";
const documents = [
  "Paris is the capital and largest city of France.",
  "Bananas are rich in potassium.",
  "France borders Belgium, Germany, Switzerland, Italy and Spain.",
  "The Eiffel Tower was built for the 1889 World's Fair in Paris.",
  "Berlin is the capital of Germany.",
];

const res = await fetch(`${url}/v1/rerank`, {
  method: "POST",
  headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
  body: JSON.stringify({ model, query, documents, top_n: 3, return_documents: true }),
});
if (!res.ok) {
  const { error } = (await res.json()) as ErrorResponse;
  console.error(`HTTP ${res.status} ${error.code}: ${error.message}`);
  process.exit(1);
}
const ranked = (await res.json()) as RerankResponse;
console.log(`query: ${query}`);
for (const r of ranked.results) console.log(`${r.relevance_score.toFixed(4)} [${r.index}] ${r.document?.text}`);
console.log(`${ranked.usage.total_tokens} tokens`);
