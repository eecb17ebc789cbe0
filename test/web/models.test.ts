import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { testModel } from "../helpers/models.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { startServer as startFileServer, type TestServer as FileServer } from "../pull/fixtures.ts";
import { ensureBuilt, launch, newPage, screenshot } from "./browser.ts";

/** The models page: load and unload, pull with progress; and the key prompts of a server with auth. */
let browser: Browser;
let dir: string;
let files: FileServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-web-models-"));
  const tiny = await testModel("tiny");
  await copyFile(tiny, join(dir, "second.gguf"));
  files = await startFileServer({ "/pulled.gguf": { kind: "file", body: await readFile(tiny) } });
  [browser] = await Promise.all([launch(), ensureBuilt()]);
});

after(async () => {
  await browser?.close();
  await files?.close();
  await rm(dir, { recursive: true, force: true });
});

const row = (page: Page, id: string) => page.getByRole("table", { name: "Models" }).getByRole("row", { name: id, exact: true });
const state = (page: Page, id: string, s: string) => row(page, id).locator(`.state-${s}`).waitFor({ timeout: 60_000 });

test("load and unload a model, and pull one with a progress bar", async () => {
  // The file server it pulls from is on loopback, which pulls refuse unless allowed.
  const server = await startServer({ config: { models: [{ id: "second", path: join(dir, "second.gguf") }], pull: { allow_private_addresses: true } } });
  const { page, errors } = await newPage(browser);
  try {
    await page.goto(`${server.url}/models`);
    await state(page, "tiny", "loaded");
    await state(page, "second", "available");
    await page.getByRole("button", { name: "Load second" }).click();
    await state(page, "second", "loaded");
    assert.match((await row(page, "second").textContent())!, /\d+ MB/);
    await page.getByRole("button", { name: "Unload second" }).click();
    await state(page, "second", "available");

    await page.getByLabel("Source").fill(`${files.url}/pulled.gguf`);
    await page.getByRole("button", { name: "Pull" }).click();
    await page.getByRole("status").getByText("Pulled pulled.").waitFor();
    const bar = page.getByRole("progressbar", { name: "Pull progress" });
    assert.equal(await bar.getAttribute("value"), await bar.getAttribute("max"));
    await state(page, "pulled", "available");
    await screenshot(page, "models");
    assert.deepEqual(errors, []);
  } finally {
    await page.context().close();
    await server.close();
  }
});

test("with auth required the app asks for an API key, then for the admin key, and keeps them in sessionStorage only", async () => {
  const server = await startServer({ config: { auth: "required", admin_key: "admin-secret-key", models: [{ id: "second", path: join(dir, "second.gguf") }] } });
  const { page, errors } = await newPage(browser);
  try {
    const created = await fetch(`${server.url}/v1/admin/keys`, {
      method: "POST", headers: { authorization: "Bearer admin-secret-key", "content-type": "application/json" }, body: JSON.stringify({ name: "alice" }),
    });
    const { key } = (await created.json()) as { key: string };
    assert.ok(key);
    await page.goto(`${server.url}/models`);
    const dialog = page.getByRole("dialog", { name: "API key needed" });
    await dialog.getByLabel("API key").fill(key);
    await dialog.getByRole("button", { name: "Use key" }).click();
    await state(page, "second", "available");
    // Loading needs the admin key: a 403 asks for it, and the load goes through.
    await page.getByRole("button", { name: "Load second" }).click();
    const admin = page.getByRole("dialog", { name: "Admin key needed" });
    await admin.getByLabel("Admin key").fill("admin-secret-key");
    await admin.getByRole("button", { name: "Use key" }).click();
    await state(page, "second", "loaded");
    // The chat streams over the WebSocket with the key in its subprotocol.
    await page.getByRole("link", { name: "Chat" }).click();
    await page.getByLabel("Max tokens").fill("8");
    await page.getByLabel("Message", { exact: true }).fill("hello");
    await page.keyboard.press("Enter");
    await page.getByRole("article", { name: "Assistant message 2" }).locator(".reason").waitFor();
    const stored = await page.evaluate(() => {
      const w = globalThis as unknown as { sessionStorage: Record<string, string>; localStorage: { length: number }; document: { cookie: string } };
      return { session: { ...w.sessionStorage }, local: w.localStorage.length, cookie: w.document.cookie };
    });
    assert.deepEqual(stored, { session: { "hearth.apiKey": key, "hearth.adminKey": "admin-secret-key" }, local: 0, cookie: "" });
    assert.deepEqual(errors, []);
  } finally {
    await page.context().close();
    await server.close();
  }
});
