import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { testModel } from "../helpers/models.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { ensureBuilt, launch, newPage, screenshot, waitForText } from "./browser.ts";

/**
 * The chat page against a real Hearth: streamed answers over the WebSocket with live figures,
 * Stop, edit and regenerate (the saved conversation follows), and a model loaded when picked.
 */
let server: TestServer;
let browser: Browser;
let page: Page;
let pageErrors: string[];
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-web-chat-"));
  await copyFile(await testModel("tiny"), join(dir, "second.gguf"));
  // A long context, so that an answer the test stops is still running when Stop is clicked (the tiny model is fast).
  [server, browser] = await Promise.all([
    startServer({ config: { models: [{ id: "second", path: join(dir, "second.gguf") }], inference: { context_length: 4096 } } }),
    launch(),
    ensureBuilt(),
  ]) as [TestServer, Browser, void];
  ({ page, errors: pageErrors } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const assistant = (n: number) => page.getByRole("article", { name: `Assistant message ${n}`, exact: true });
const user = (n: number) => page.getByRole("article", { name: `You message ${n}`, exact: true });
const idle = () => page.getByRole("button", { name: "Send" }).waitFor();
const conversationId = () => new URL(page.url()).searchParams.get("c");
const saved = async () => (await (await fetch(`${server.url}/v1/conversations/${conversationId()}`)).json()) as { messages: { role: string; content: string; metadata?: Record<string, unknown> }[] };

async function send(text: string) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.keyboard.press("Enter");
}

test("a message streams an answer with tokens/s and time to first token, saved as a conversation", async () => {
  await page.goto(`${server.url}/`);
  await page.waitForURL(/\/chat$/);
  await page.getByLabel("Model", { exact: true }).locator("option", { hasText: "tiny (loaded)" }).waitFor({ state: "attached" });
  await page.getByLabel("Max tokens").fill("24");
  await page.getByLabel("System prompt").fill("You are terse.");
  await send("Hello there, **friend**");
  await assistant(2).locator(".reason").waitFor();
  await idle();
  const stats = await assistant(2).getByLabel("Generation stats").textContent();
  assert.match(stats!, /\d+(\.\d)? tok\/s/);
  assert.match(stats!, /TTFT \d+ ms/);
  assert.match(stats!, /24 tokens/);
  assert.ok((await assistant(2).locator(".markdown").textContent())!.length > 0);
  assert.equal(await user(1).textContent().then((t) => t!.includes("Hello there, **friend**")), true, "a user's text is shown as typed");
  // Saved on the server: the system prompt, the message and the answer with its figures.
  await page.waitForURL(/\?c=conv_/);
  const conv = await saved();
  assert.deepEqual(conv.messages.map((m) => m.role), ["user", "assistant"]);
  assert.equal(conv.messages[1]!.metadata?.finish_reason, "length");
});

test("Stop ends a long answer while it streams", async () => {
  await page.getByLabel("Max tokens").fill("3800");
  await send("Tell me a very long story");
  // Live figures while it streams.
  await waitForText(page, "article.streaming .stats", /\d tok\/s/);
  await page.getByRole("button", { name: "Stop" }).click();
  await assistant(4).getByText("stopped").waitFor();
  await idle();
  const tokens = Number(/(\d+) tokens/.exec((await assistant(4).getByLabel("Generation stats").textContent())!)?.[1]);
  assert.ok(tokens > 0 && tokens < 3800, `stopped after ${tokens} tokens`);
  await screenshot(page, "chat");
});

test("editing a user message cuts the conversation there and sends it again", async () => {
  await page.getByLabel("Max tokens").fill("16");
  await user(1).getByRole("button", { name: "Edit" }).click();
  await user(1).getByLabel("Edit message").fill("An edited question");
  await user(1).getByRole("button", { name: "Save and send" }).click();
  await assistant(2).locator(".reason").waitFor();
  await idle();
  assert.equal(await page.getByRole("article").count(), 2);
  assert.match((await user(1).textContent())!, /An edited question/);
  const conv = await saved();
  assert.deepEqual(conv.messages.map((m) => [m.role, m.role === "user" ? m.content : ""]), [["user", "An edited question"], ["assistant", ""]]);
});

test("regenerating an answer replaces it", async () => {
  const first = (await saved()).messages[1]!.metadata;
  await page.getByLabel("Temperature").fill("1.5");
  await assistant(2).getByRole("button", { name: "Regenerate" }).click();
  await page.locator("article.streaming").waitFor({ state: "detached" });
  await idle();
  assert.equal(await page.getByRole("article").count(), 2);
  const conv = await saved();
  assert.deepEqual(conv.messages.map((m) => m.role), ["user", "assistant"]);
  assert.equal(conv.messages[0]!.content, "An edited question");
  assert.notDeepEqual(conv.messages[1]!.metadata, first, "a new answer, with its own figures");
});

test("picking an unloaded model loads it, and chat uses it", async () => {
  const picker = page.getByLabel("Model", { exact: true });
  await picker.locator("option", { hasText: "second (available)" }).waitFor({ state: "attached" });
  await picker.selectOption("second");
  await picker.locator("option", { hasText: "second (loaded)" }).waitFor({ state: "attached", timeout: 60_000 });
  await page.getByRole("status", { name: "Model state" }).getByText("loaded").waitFor();
  const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: { id: string; state: string }[] };
  assert.equal(models.data.find((m) => m.id === "second")?.state, "loaded");
  await page.getByRole("button", { name: "New chat" }).click();
  await send("Hi, second model");
  await assistant(2).locator(".reason").waitFor();
  await idle();
  assert.equal((await saved()).messages[1]!.metadata?.model, "second");
  assert.deepEqual(pageErrors, []);
});
