/// <reference lib="dom" />
/**
 * /docs in a real browser (headless Chromium through playwright-core): Swagger UI renders every
 * operation of /openapi.json under the server's Content-Security-Policy, from this origin only,
 * asks for the API key the document needs, and its "Try it out" reaches the API with that key.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ensureChromium, launchChromium } from "../support/browser.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";
import { PROCESS_TEST_TIMEOUTS, PROCESS_WAIT_MS as BROWSER_WAIT_MS } from "../support/spawn.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

const unavailable = ensureChromium();
if (unavailable) console.warn(`\n\n!!! SKIPPING THE BROWSER TESTS OF /docs: ${unavailable} !!!\n\n`);

const API_KEY = "docs-key-0123456789abcdef";

describe.skipIf(unavailable !== null)("/docs in a browser", () => {
  let browser: Browser;
  let stub: OpenAiStub;
  let server: TestServer;
  let page: Page;
  /** Requests to anything but our server, page errors, and what the console said about the policy. */
  const foreign: string[] = [];
  const pageErrors: string[] = [];
  const policyViolations: string[] = [];
  const prompts: string[] = [];

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: { API_KEYS: `alice:${API_KEY}` }, apiKey: API_KEY });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(BROWSER_WAIT_MS);
    page = await context.newPage();
    page.on("request", (request) => {
      if (!request.url().startsWith(server.baseUrl) && !/^(data|about|blob):/.test(request.url())) foreign.push(request.url());
    });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) policyViolations.push(message.text());
    });
    // The document needs the key: the page asks for it once.
    page.on("dialog", (dialog) => {
      prompts.push(dialog.message());
      void dialog.accept(API_KEY);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await stub?.close();
  });

  it("asks for the key, then renders every operation, from this origin only, within the policy", async () => {
    const spec = (await server.request("/openapi.json", { headers: { "x-api-key": API_KEY } })).body as { paths: Record<string, Record<string, unknown>> };
    const operationCount = Object.values(spec.paths).reduce((count, item) => count + Object.keys(item).length, 0);

    await page.goto(`${server.baseUrl}/docs`);
    await page.waitForFunction((count) => document.querySelectorAll(".opblock").length === count, operationCount);
    expect(prompts).toHaveLength(1);
    expect(await page.locator(".info .title").innerText()).toContain("stateful-agent");
    expect(await page.locator(".opblock-summary-path").allInnerTexts()).toEqual(expect.arrayContaining(["/runs/batch", "/threads/{thread_id}/runs/{run_id}/stream"]));

    // "Try it out" on an operation that needs the key: the page sends the one it was given.
    const info = page.locator("#operations-Meta-getInfo");
    await info.locator(".opblock-summary").click();
    await info.locator("button.try-out__btn").click();
    await info.locator("button.execute").click();
    await info.locator(".live-responses-table tbody .response-col_status").first().waitFor();
    expect((await info.locator(".live-responses-table tbody .response-col_status").first().innerText()).trim()).toBe("200");

    expect(foreign).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(policyViolations).toEqual([]);
  });
});
