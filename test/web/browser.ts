import { execFile } from "node:child_process";
import { access, mkdir, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startServer, type TestServer } from "../helpers/server.ts";

/**
 * The browser app's end-to-end tests: a real Hearth serving web/dist, driven by Debian's Chromium
 * through playwright-core. web/dist is built here when it is missing or older than its sources, so
 * `npm test` needs no build step before it.
 */
const root = join(import.meta.dirname, "..", "..");
const web = join(root, "web");
/** Screenshots go to a temporary folder; `npm run screenshots` points them at docs/screenshots to update those. */
export const screenshotsDir = process.env.HEARTH_SCREENSHOTS_DIR ? resolve(process.env.HEARTH_SCREENSHOTS_DIR) : join(tmpdir(), "hearth-screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

async function newest(path: string): Promise<number> {
  const s = await stat(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let max = 0;
  for (const e of await readdir(path)) max = Math.max(max, await newest(join(path, e)));
  return max;
}

/** Runs web/build.ts (vite build and the size budget) when web/dist is missing or stale. */
export async function ensureBuilt(): Promise<void> {
  const index = join(web, "dist", "index.html");
  let built = 0;
  try { built = (await stat(index)).mtimeMs; } catch { /* not built */ }
  const sources = Math.max(...await Promise.all(["src", "index.html", "vite.config.ts", "build.ts"].map((p) => newest(join(web, p)))));
  if (built > sources) return;
  await promisify(execFile)(process.execPath, [join(web, "build.ts")], { cwd: root });
}

export async function launch(): Promise<Browser> {
  await access(CHROMIUM);
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/** A server with the tiny model, the built app, Chromium and one page; `close` ends them. */
export async function openApp(): Promise<{ server: TestServer; browser: Browser; page: Page; errors: string[]; close(): Promise<void> }> {
  const [server, browser] = await Promise.all([startServer(), launch(), ensureBuilt()]) as [TestServer, Browser, void];
  const { page, errors } = await newPage(browser);
  return { server, browser, page, errors, async close() { await browser.close(); await server.close(); } };
}

/** A page at 1280x800 (the screenshots' size) that fails the test on any uncaught page error. */
export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, colorScheme: "light" });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  // The CSP refusing something shows as a console error: the app must need no inline script or style.
  page.on("console", (msg) => { if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) errors.push(msg.text()); });
  page.setDefaultTimeout(20_000);
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(screenshotsDir, { recursive: true });
  await page.screenshot({ path: join(screenshotsDir, `${name}.png`) });
}

/** What the functions below use of the page's document (this project's tsconfig has no DOM types; they run in the browser). */
interface PageWindow {
  document: {
    querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null;
    querySelectorAll(selector: string): { length: number };
  };
}

/** Waits until `selector` matches exactly `n` elements. */
export async function waitForCount(page: Page, selector: string, n: number): Promise<void> {
  await page.waitForFunction(([s, n]) => (globalThis as unknown as PageWindow).document.querySelectorAll(s).length === n, [selector, n] as const);
}

/** Waits until the text of the first element matching `selector` matches `pattern`. */
export async function waitForText(page: Page, selector: string, pattern: RegExp): Promise<void> {
  await page.waitForFunction(([s, source, flags]) => new RegExp(source, flags).test((globalThis as unknown as PageWindow).document.querySelector(s)?.textContent ?? ""),
    [selector, pattern.source, pattern.flags] as const);
}

/** Waits until the number in the first element matching `selector` (its text, or `attribute`) is at least `min`. */
export async function waitForNumber(page: Page, selector: string, min: number, attribute?: string): Promise<void> {
  await page.waitForFunction(([s, min, attr]) => {
    const el = (globalThis as unknown as PageWindow).document.querySelector(s);
    const text = attr ? el?.getAttribute(attr) : el?.textContent;
    return text !== null && text !== undefined && /^\d+$/.test(text.trim()) && Number(text) >= min;
  }, [selector, min, attribute ?? null] as const);
}
