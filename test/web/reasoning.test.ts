import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { testModel } from "../helpers/models.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { ensureBuilt, launch, newPage } from "./browser.ts";

/**
 * A thinking model's reasoning in the chat page: collapsed above the answer. The Qwen3 preset is
 * given a template that opens the thinking block for the reply (as DeepSeek R1's does), so the
 * random weights' reply is reasoning.
 */
let server: TestServer;
let browser: Browser;
let page: Page;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-web-reasoning-"));
  const template = join(dir, "thinking.jinja");
  // Every assistant turn starts inside a thinking block.
  await writeFile(template, "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}<think>\n{% endif %}{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}");
  [server, browser] = await Promise.all([
    startServer({ modelPath: null, config: { models: [{ id: "thinker", path: await testModel("qwen3"), chat_template: template }], inference: { context_length: 2048 } } }),
    launch(),
    ensureBuilt(),
  ]) as [TestServer, Browser, void];
  ({ page } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test("the reasoning streams into a collapsed block above the answer, and opens on a click", async () => {
  await page.goto(`${server.url}/chat`);
  // The only model: picked once the list arrives.
  await page.getByRole("status", { name: "Model state" }).waitFor();
  await page.getByLabel("Max tokens").fill("16");
  await page.getByLabel("Message", { exact: true }).fill("Why is the sky blue?");
  await page.keyboard.press("Enter");
  const answer = page.getByRole("article", { name: "Assistant message 2", exact: true });
  await answer.locator(".reason").waitFor();
  const block = answer.locator("details.reasoning");
  assert.equal(await block.getAttribute("open"), null, "collapsed");
  const body = block.locator(".plain");
  assert.equal(await body.isVisible(), false);
  await block.locator("summary").click();
  assert.ok(((await body.textContent()) ?? "").length > 0);
  assert.equal(await answer.locator(".markdown").textContent(), "", "the reasoning is not in the answer");
});
