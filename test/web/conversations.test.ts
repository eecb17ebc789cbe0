import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";
import { post, type TestServer } from "../helpers/server.ts";
import { openApp, screenshot, waitForCount } from "./browser.ts";

/** The conversations page: saved chats listed after a reload, searched, renamed, exported, imported, deleted. */
let app: Awaited<ReturnType<typeof openApp>>;
let server: TestServer;
let page: Page;
let pageErrors: string[];

before(async () => {
  app = await openApp();
  ({ server, page, errors: pageErrors } = app);
  for (const [title, text] of [["Packing list for a weekend hike", "Water, map, snacks"], ["Regex for ISO dates", "^\\d{4}-\\d{2}-\\d{2}$"]]) {
    const created = await post(`${server.url}/v1/conversations`, { title, model: "tiny", messages: [{ role: "user", content: text }] });
    assert.equal(created.status, 201);
  }
});

after(() => app?.close());

const LONG = "Please write a detailed and careful summary of everything about the zebracorn";
const item = (name: string | RegExp) => page.getByRole("list", { name: "Conversations" }).getByRole("listitem").filter({ hasText: name });

test("a chat is saved, found after a reload, and found by its title and by its text", async () => {
  await page.goto(`${server.url}/chat`);
  await page.getByLabel("Max tokens").fill("8");
  await page.getByLabel("Message", { exact: true }).fill(LONG);
  await page.getByRole("button", { name: "Send" }).click();
  await page.waitForURL(/\?c=conv_/);
  await page.getByRole("article", { name: "Assistant message 2" }).locator(".reason").waitFor();
  await page.goto(`${server.url}/conversations`);
  await page.reload();
  const title = LONG.slice(0, 60);
  await item(title).waitFor();
  assert.equal(await page.getByRole("listitem").count(), 3);
  await screenshot(page, "conversations");
  const search = page.getByLabel("Search conversations");
  await search.fill("weekend");
  await waitForCount(page, "li.conversation", 1);
  await item("Packing list").waitFor();
  // The title stops before "zebracorn": found by the message text.
  await search.fill("zebracorn");
  await item(title).waitFor();
  await waitForCount(page, "li.conversation", 1);
  await search.fill("nothing-matches-this");
  await page.getByText("No conversation matches.").waitFor();
  await search.fill("");
  await waitForCount(page, "li.conversation", 3);
});

test("opening a conversation shows its messages in the chat", async () => {
  await item(LONG.slice(0, 60)).getByRole("link").click();
  await page.waitForURL(/\/chat\?c=conv_/);
  await page.getByRole("article", { name: "You message 1" }).getByText("zebracorn").waitFor();
  await page.getByRole("article", { name: "Assistant message 2" }).getByLabel("Generation stats").waitFor();
  await page.getByRole("link", { name: "Conversations" }).click();
});

test("rename, export as a JSON download, import it back, delete", async () => {
  const row = page.getByRole("listitem", { name: "Regex for ISO dates", exact: true });
  await row.getByRole("button", { name: "Rename" }).click();
  await row.getByLabel("New title").fill("Date regex");
  await row.getByRole("button", { name: "Save" }).click();
  await item("Date regex").waitFor();

  const [download] = await Promise.all([page.waitForEvent("download"), item("Date regex").getByRole("button", { name: "Export" }).click()]);
  assert.match(download.suggestedFilename(), /^Date-regex\.json$/);
  const exported = JSON.parse(await readFile((await download.path())!, "utf8")) as { id: string; title: string; messages: { role: string; content: string }[] };
  assert.equal(exported.title, "Date regex");
  assert.deepEqual(exported.messages.map((m) => [m.role, m.content]), [["user", "^\\d{4}-\\d{2}-\\d{2}$"]]);

  await page.getByLabel("Import conversation file").setInputFiles({ name: "import.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(exported)) });
  await page.getByRole("status").getByText("Imported 1 conversation.").waitFor();
  await waitForCount(page, "li.conversation", 4);
  assert.equal(await item("Date regex").count(), 2);

  await item("Packing list").getByRole("button", { name: "Delete" }).click();
  await item("Packing list").getByRole("button", { name: "Confirm delete" }).click();
  await waitForCount(page, "li.conversation", 3);
  const list = (await (await fetch(`${server.url}/v1/conversations`)).json()) as { data: { title: string }[] };
  assert.deepEqual(list.data.map((c) => c.title).sort(), ["Date regex", "Date regex", LONG.slice(0, 60)].sort());
  assert.deepEqual(pageErrors, []);
});
