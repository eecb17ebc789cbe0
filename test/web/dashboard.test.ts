import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";
import type { TestServer } from "../helpers/server.ts";
import { waitUntil } from "../helpers/wait.ts";
import { openApp, screenshot, waitForNumber, waitForText } from "./browser.ts";

/** The dashboard follows a server under load: its request counter and charts grow, usage is reported. */
let app: Awaited<ReturnType<typeof openApp>>;
let server: TestServer;
let page: Page;
let pageErrors: string[];

before(async () => {
  app = await openApp();
  ({ server, page, errors: pageErrors } = app);
});

after(() => app?.close());

const TOTAL = "[aria-labelledby=total-requests-label]";
const total = async () => Number(await page.locator(TOTAL).textContent());
const points = (title: string) => page.getByRole("figure", { name: title }).getAttribute("data-points").then(Number);

test("the request counter and the charts grow while requests arrive", async () => {
  await page.goto(`${server.url}/dashboard`);
  await waitForNumber(page, TOTAL, 0);
  const start = await total();
  const startPoints = await points("Requests per second");
  const ask = () => server.client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hello" }], max_tokens: 16 });
  for (let round = 0; round < 4; round++) await Promise.all([ask(), ask()]);
  await waitForNumber(page, TOTAL, start + 8);
  await waitForNumber(page, "figure[aria-label='Requests per second']", startPoints + 3, "data-points");
  // The latency tiles show percentiles once generations finished.
  await waitForText(page, ".tiles", /\d+ ms/);
  assert.equal(await page.getByRole("region", { name: "Slots per model" }).locator(".slot").count(), 2);
  await page.getByRole("region", { name: "Memory" }).getByText(/Used .* of .* budget/).waitFor();
  // Usage over the last day, by model, once the usage log (written in batches) has the requests.
  await waitUntil(async () => {
    const usage = (await (await fetch(`${server.url}/v1/usage?group_by=model`)).json()) as { data: { group: string; requests: number }[] };
    return (usage.data.find((r) => r.group === "tiny")?.requests ?? 0) >= 8;
  }, "the usage log has the requests", 30_000);
  const usage = page.getByRole("region", { name: "Usage" });
  await usage.getByLabel("Group by").selectOption("model");
  await usage.getByRole("button", { name: "Refresh" }).click();
  await usage.getByRole("table", { name: "Usage table" }).getByRole("row", { name: /^tiny/ }).waitFor();
  await screenshot(page, "dashboard");
  assert.deepEqual(pageErrors, []);
});
