/// <reference lib="dom" />
/**
 * The web chat's layout and navigation in a real browser (headless Chromium through
 * playwright-core), against the server on 127.0.0.1 and the stub model: the address names the
 * open chat (Back, Forward, an edited address), the page at phone width (a menu for the
 * header's actions, a status that moves nothing, a placeholder that fits), the typing indicator
 * and the way back down a long chat, the small words (plurals, "No chats yet.", one error
 * message), and screenshots of a realistic chat at desktop and phone width.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ensureChromium, launchChromium } from "../support/browser.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";
import { PROCESS_TEST_TIMEOUTS, PROCESS_WAIT_MS as BROWSER_WAIT_MS } from "../support/spawn.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

const unavailable = ensureChromium();
if (unavailable) console.warn(`\n\n!!! SKIPPING THE BROWSER TESTS OF THE WEB CHAT'S LAYOUT: ${unavailable} !!!\n\n`);

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

describe.skipIf(unavailable !== null)("web chat layout", () => {
  let browser: Browser;
  let stub: OpenAiStub;
  let server: TestServer;
  /** One tab for the whole file, opened on each test's server in turn. */
  let page: Page;
  /** Errors thrown in the page. */
  let pageErrors: string[];

  beforeAll(async () => {
    browser = await launchChromium();
    stub = await startOpenAiStub();
    // Reduced motion: the drawer does not slide, so a screenshot never catches it half-way.
    const context = await browser.newContext({ viewport: DESKTOP, colorScheme: "light", reducedMotion: "reduce" });
    context.setDefaultTimeout(BROWSER_WAIT_MS);
    page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    await stub?.close();
  });

  beforeEach(async () => {
    stub.reset();
    pageErrors = [];
    // Documents (stub embeddings) and the model's retries, as a server runs by default.
    server = await startServer(stub, { env: { EMBEDDING_MODEL: "stub-embedding", MODEL_MAX_RETRIES: "2", MODEL_RETRY_BASE_MS: "1" } });
  });
  afterEach(async () => {
    if (page.url().startsWith(server.baseUrl)) await page.evaluate(() => localStorage.clear());
    await page.goto("about:blank");
    await server.close();
    expect(pageErrors).toEqual([]);
  });

  async function openPage(viewport = DESKTOP, hash = ""): Promise<void> {
    await page.setViewportSize(viewport);
    await page.goto(`${server.baseUrl}/${hash}`);
    await page.waitForSelector("#assistant option", { state: "attached" });
  }

  /** Types a message and presses Enter, without waiting for the reply. */
  async function submit(text: string) {
    await page.fill("#prompt", text);
    await page.press("#prompt", "Enter");
  }

  /** Types a message and presses Enter; resolves when the finished reply is on screen. */
  async function send(text: string) {
    const before = await page.locator(".message.assistant").count();
    await submit(text);
    await page.waitForFunction((count) => document.querySelectorAll(".message.assistant:not(.streaming)").length > count && document.querySelector("#stop")?.hasAttribute("hidden"), before);
  }

  const texts = (selector: string) => page.locator(`${selector} .message-text`).allInnerTexts();
  const threadTitles = () => page.locator(".thread-title").allInnerTexts();
  const addressedThread = () => page.evaluate(() => new URLSearchParams(location.hash.slice(1)).get("thread"));
  const headerTitle = () => page.locator("#thread-title").innerText();

  it("names the open chat in the address: Back and Forward switch chats, an edited address opens its chat, a new chat clears it", async () => {
    await openPage();
    await send("My name is Ada");
    const ada = await addressedThread();
    expect(ada).not.toBeNull();
    await page.click("#new-thread");
    await expect.poll(addressedThread).toBeNull();
    await send("My name is Bob");
    const bob = await addressedThread();
    expect(bob).not.toBe(ada);
    await page.click(`.thread[data-thread-id="${ada}"] .thread-open`);
    await expect.poll(addressedThread).toBe(ada);
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);

    // Back: Bob's chat (the new chat became it, so there is no empty chat in between); Back again: Ada's.
    await page.goBack();
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Bob"]);
    expect(await addressedThread()).toBe(bob);
    expect(await headerTitle()).toBe("My name is Bob");
    expect(await page.title()).toBe("My name is Bob · stateful-agent");
    await expect.poll(() => page.locator('.thread[aria-current="true"]').getAttribute("data-thread-id")).toBe(bob);
    await page.goBack();
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);
    await page.goForward();
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Bob"]);
    await page.goForward();
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);

    // Editing the address opens the chat it names; the chat shown goes on working.
    await page.evaluate((id) => (location.hash = `thread=${id}`), bob!);
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Bob"]);
    expect(await headerTitle()).toBe("My name is Bob");
    await send("What is my name?");
    expect(await texts(".message.assistant")).toEqual(["Nice to meet you, Bob!", "Your name is Bob."]);

    // A new chat clears the address; Back returns to the chat before it.
    await page.click("#new-thread");
    await expect.poll(addressedThread).toBeNull();
    expect(await page.locator(".message").count()).toBe(0);
    expect(await headerTitle()).toBe("New chat");
    await page.goBack();
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Bob", "What is my name?"]);

    // An address naming no chat says so, and shows a new chat with the address cleared.
    await page.evaluate(() => (location.hash = "thread=00000000-0000-4000-8000-000000000000"));
    await page.waitForSelector("#alert:not([hidden])");
    expect(await page.locator("#alert-text").innerText()).toBe("The chat in the address was not found: it may have been deleted.");
    await expect.poll(addressedThread).toBeNull();
    expect(await page.locator(".message").count()).toBe(0);

    // Reloading on a chat reopens it.
    await page.goto(`${server.baseUrl}/#thread=${ada}`);
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);
    await page.reload();
    await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);
    expect(await addressedThread()).toBe(ada);
  });

  it("shows a title the server gave the chat during its reply, in the list and the header, once the reply ends", async () => {
    await openPage();
    const release = stub.holdNextReply();
    await submit("Plan three days in Lisbon on a budget");
    await expect.poll(addressedThread).not.toBeNull();
    const threadId = (await addressedThread())!;
    // The server names the chat (as its title generator does after the first exchange).
    await server.client.threads.update(threadId, { metadata: { title: "Lisbon on a budget" } });
    release();
    await page.waitForSelector(".message.assistant:not(.streaming)");
    await expect.poll(headerTitle).toBe("Lisbon on a budget");
    await expect.poll(threadTitles).toEqual(["Lisbon on a budget"]);
    expect(await page.title()).toBe("Lisbon on a budget · stateful-agent");
  });

  it("shows a typing indicator from the message sent until the reply's first words, then the reply", async () => {
    await openPage();
    let firstWords!: () => void;
    let rest!: () => void;
    stub.inject({
      kind: "pauses",
      stops: [
        // Nothing yet (headers only), then two words.
        { afterChunks: 0, resume: new Promise<void>((resolve) => (firstWords = resolve)) },
        { afterChunks: 3, resume: new Promise<void>((resolve) => (rest = resolve)) },
      ],
    });
    stub.respondWith(() => "one two three four");
    await submit("Count to four");
    await page.waitForSelector(".typing");
    expect(await page.locator(".typing").isVisible()).toBe(true);
    // Below the message it answers, where the reply will be.
    expect(await page.evaluate(() => document.querySelector("#messages")?.lastElementChild?.className)).toBe("typing");
    expect(await page.locator(".message.assistant").count()).toBe(0);
    firstWords();
    await page.waitForSelector(".message.assistant.streaming");
    expect(await page.locator(".typing").count()).toBe(0);
    rest();
    await page.waitForSelector("#stop", { state: "hidden" });
    expect(await page.locator(".typing").count()).toBe(0);
    expect(await texts(".message.assistant")).toEqual(["one two three four"]);

    // A reply that fails before its first word leaves no indicator behind.
    stub.inject({ kind: "status", status: 400, message: "Refused" });
    await submit("This one fails");
    await page.waitForSelector("#alert:not([hidden])");
    await page.waitForSelector("#stop", { state: "hidden" });
    expect(await page.locator(".typing").count()).toBe(0);
  });

  it("leaves a user who scrolled up where they are while a reply streams, and a button takes them back down", async () => {
    await openPage();
    const paragraph = (n: number) => `Paragraph ${n}: ${"a line of a long answer that keeps going ".repeat(4).trim()}.`;
    stub.respondWith(() => Array.from({ length: 12 }, (_, index) => paragraph(index + 1)).join("\n\n"));
    await send("Tell me a long story");
    await send("And another one");
    const button = page.locator("#scroll-down");
    // At the end: no button.
    expect(await button.isHidden()).toBe(true);
    const distanceToEnd = () => page.evaluate(() => {
      const list = document.querySelector("#messages")!;
      return list.scrollHeight - list.scrollTop - list.clientHeight;
    });
    expect(await distanceToEnd()).toBeLessThanOrEqual(1);

    // A third reply, held after its first words; the user scrolls up to read while it comes.
    let rest!: () => void;
    stub.inject({ kind: "pause", afterChunks: 4, resume: new Promise<void>((resolve) => (rest = resolve)) });
    await submit("One more");
    await page.waitForSelector(".message.assistant.streaming");
    const list = await page.locator("#messages").boundingBox();
    await page.mouse.move(list!.x + list!.width / 2, list!.y + list!.height / 2);
    await page.mouse.wheel(0, -1500);
    await expect.poll(() => button.isVisible()).toBe(true);
    const readingAt = await page.evaluate(() => document.querySelector("#messages")!.scrollTop);
    rest();
    await page.waitForSelector("#stop", { state: "hidden" });
    // The reply came in whole without moving what the user reads.
    expect((await texts(".message.assistant")).at(-1)).toContain("Paragraph 12");
    expect(await page.evaluate(() => document.querySelector("#messages")!.scrollTop)).toBe(readingAt);
    expect(await button.isVisible()).toBe(true);

    await button.click();
    await expect.poll(distanceToEnd).toBeLessThanOrEqual(1);
    await expect.poll(() => button.isHidden()).toBe(true);
  });

  it("fits a phone: the title keeps the header, the chat's actions are in a menu and work there, the status moves nothing, the placeholder fits", async () => {
    const pirate = await server.client.assistants.create({ graphId: "agent", name: "Pirate", config: { configurable: { system_prompt: "Speak like a pirate." } } });
    await openPage(PHONE);
    expect(await page.getAttribute("#prompt", "placeholder")).toBe("Message");
    await send("Plan three days in Lisbon on a budget, with museums");
    const title = await page.locator("#thread-title").boundingBox();
    // Most of the header's width: only the two small buttons beside it.
    expect(title!.width).toBeGreaterThan(PHONE.width * 0.6);
    for (const id of ["assistant", "edit-assistant", "collection", "manage-documents", "manage-memory"]) expect(await page.locator(`#${id}`).isVisible(), id).toBe(false);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);

    // "Answering…" moves neither the header's buttons nor the message box.
    const positions = () => page.evaluate(() => ["#chat-menu", "#open-sidebar", "#thread-title", "#prompt", "#messages"].map((selector) => JSON.stringify(document.querySelector(selector)!.getBoundingClientRect())));
    const before = await positions();
    const release = stub.holdNextReply();
    await submit("And the food?");
    await expect.poll(() => page.locator("#status").innerText()).toBe("Answering…");
    expect(await page.locator("#status").isVisible()).toBe(true);
    expect(await positions()).toEqual(before);
    release();
    await page.waitForSelector("#stop", { state: "hidden" });

    // The menu holds the actions, on screen; each works from there and closes the menu.
    const menu = page.locator("#chat-actions");
    const openMenu = async () => {
      await page.click("#chat-menu");
      await expect.poll(() => menu.isVisible()).toBe(true);
      expect(await page.getAttribute("#chat-menu", "aria-expanded")).toBe("true");
    };
    await openMenu();
    for (const id of ["assistant", "edit-assistant", "collection", "manage-documents", "manage-memory"]) {
      const box = await page.locator(`#${id}`).boundingBox();
      expect(box, id).not.toBeNull();
      expect(box!.x, id).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, id).toBeLessThanOrEqual(PHONE.width);
    }
    expect(await menu.innerText()).toContain("Assistant");
    await page.click("#manage-memory");
    await page.waitForSelector("#memory-dialog[open]");
    expect(await menu.isVisible()).toBe(false);
    await page.click("#memory-close");

    await openMenu();
    await page.click("#manage-documents");
    await page.waitForSelector("#documents-dialog[open]");
    await page.click("#documents-close");

    await openMenu();
    await page.click("#edit-assistant");
    await page.waitForSelector("#assistant-dialog[open]");
    await page.click("#assistant-close");

    // Picking an assistant for the chat on screen.
    const threadId = await addressedThread();
    await openMenu();
    await page.selectOption("#assistant", pirate.assistant_id);
    await expect.poll(() => menu.isVisible()).toBe(false);
    await expect.poll(async () => (await server.client.threads.get(threadId!)).metadata?.assistant_id).toBe(pirate.assistant_id);
    await send("Hello");
    expect(stub.requests.at(-1)!.body.messages.map(wireText)[0]).toContain("Speak like a pirate.");

    // Escape closes the menu back onto its button; so does a tap elsewhere.
    await openMenu();
    await page.keyboard.press("Escape");
    await expect.poll(() => menu.isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("chat-menu");
    await openMenu();
    await page.click("#messages", { position: { x: 20, y: 20 } });
    await expect.poll(() => menu.isVisible()).toBe(false);

    // Back at desktop width the actions are in the header, and the placeholder says how to send.
    await page.setViewportSize(DESKTOP);
    expect(await page.locator("#manage-memory").isVisible()).toBe(true);
    expect(await page.locator("#chat-menu").isVisible()).toBe(false);
    await expect.poll(() => page.getAttribute("#prompt", "placeholder")).toBe("Message (Enter to send, Shift+Enter for a new line)");
  });

  it("says the small things right: no chats yet where the list is, plurals, collections told apart, titles that use the row", async () => {
    await openPage();
    // No chats: the words stand where the list would be, under the search box.
    const empty = page.locator("#thread-empty");
    expect(await empty.innerText()).toBe("No chats yet.");
    const search = await page.locator("#thread-search").boundingBox();
    const words = await empty.boundingBox();
    expect(words!.y - (search!.y + search!.height)).toBeLessThan(40);

    // Two collections of one name, with one document and with two.
    const create = async (name: string, files: string[]) => {
      const { body } = await server.request("/collections", { body: { name } });
      const collectionId = (body as { collection_id: string }).collection_id;
      for (const file of files) await server.request(`/collections/${collectionId}/documents`, { body: { source: file, content_type: "text/plain", content: `The text of ${file}.` } });
      return collectionId;
    };
    const one = await create("Handbook", ["refunds.txt"]);
    const two = await create("Handbook", ["refunds.txt", "shipping.txt"]);
    await page.reload();
    await page.waitForSelector("#assistant option", { state: "attached" });
    const label = (id: string) => page.locator(`#collection option[value="${id}"]`).innerText();
    expect(await label(one)).toMatch(/^Handbook \(1 document · created .+\)$/);
    expect(await label(two)).toMatch(/^Handbook \(2 documents · created .+\)$/);
    await page.click("#manage-documents");
    await expect.poll(() => page.locator(".collection-details").allInnerTexts()).toEqual(expect.arrayContaining([expect.stringMatching(/^1 document · created /), expect.stringMatching(/^2 documents · created /)]));
    await page.click(`.collection-list li[data-collection-id="${one}"] .collection-open`);
    await expect.poll(() => page.locator(".document-meta").allInnerTexts()).toEqual(["1 part"]);
    page.once("dialog", (dialog) => {
      expect(dialog.message()).toBe("Delete the collection “Handbook” and its 1 document?");
      void dialog.dismiss();
    });
    await page.click(`.collection-list li[data-collection-id="${one}"] .collection-delete`);
    await page.click("#documents-close");

    // A title that fits the row is not cut short; one that does not is, with an ellipsis.
    const fits = await server.client.threads.create({ metadata: { title: "Birthday ideas" } });
    const long = await server.client.threads.create({ metadata: { title: "A very long title that no sidebar of any sensible width could ever show whole" } });
    await page.reload();
    await expect.poll(() => page.locator(".thread").count()).toBe(2);
    expect(await empty.isHidden()).toBe(true);
    await page.mouse.move(DESKTOP.width - 10, DESKTOP.height / 2);
    const geometry = (threadId: string) =>
      page.evaluate((id) => {
        const row = document.querySelector(`.thread[data-thread-id="${id}"]`)!;
        const box = (selector: string) => row.querySelector(selector)!.getBoundingClientRect();
        const title = row.querySelector(".thread-title")!;
        return { row: row.getBoundingClientRect().width, open: box(".thread-open").width, cut: title.scrollWidth > title.clientWidth, right: box(".thread-title").right, timeLeft: box(".thread-time").left, renameLeft: box(".thread-rename").left };
      }, threadId);
    expect((await geometry(fits.thread_id)).cut).toBe(false);
    const cut = await geometry(long.thread_id);
    expect(cut.cut).toBe(true);
    // The chat's button takes the whole row (rename and delete take no room while hidden), and
    // the title all of it up to the time.
    expect(cut.open).toBeGreaterThanOrEqual(cut.row - 1);
    expect(cut.timeLeft - cut.right).toBeLessThan(12);
    // Hovered, the buttons show beside the title, not over it.
    await page.hover(`.thread[data-thread-id="${long.thread_id}"]`);
    const hovered = await geometry(long.thread_id);
    expect(hovered.right).toBeLessThanOrEqual(hovered.renameLeft);
  });

  it("says a failed reply once, in one sentence, without the status repeated", async () => {
    await openPage();
    await send("My name is Ada");
    // Every attempt fails (three: the first and two retries).
    stub.inject({ kind: "status", status: 500, message: "Internal error" }, { kind: "status", status: 500, message: "Internal error" }, { kind: "status", status: 500, message: "Internal error" });
    await submit("This one fails");
    await page.waitForSelector("#alert:not([hidden])");
    await page.waitForSelector("#stop", { state: "hidden" });
    const alert = await page.locator("#alert-text").innerText();
    expect(alert).toBe("The reply failed: The model provider answered HTTP 500: Internal error (after 3 attempts)");
    // Said once on the page.
    const body = await page.locator("body").innerText();
    expect(body.split("Internal error").length - 1).toBe(1);
    expect(await page.locator("#alert").count()).toBe(1);
  });

  it("takes screenshots of a realistic chat at desktop and phone width", async () => {
    const replies: Record<string, string> = {
      "What should I pack for three days in Lisbon in April?":
        "April in Lisbon is mild, 15 to 21 °C, with the odd shower.\n\n- Light layers and a rain jacket\n- Comfortable shoes: the city is steep and the pavements are slippery\n- A small day bag for the trams and viewpoints\n\nLeave room for pastéis de nata.",
      "Which neighbourhoods should we stay in?":
        "Baixa and Chiado are central and flat by Lisbon's standards, close to the river and the trams. Alfama is older and quieter in the evening, with steep streets. Príncipe Real is calm and green, a short walk from Bairro Alto's restaurants.",
      "And a budget for food?":
        "Around 35 € a day each covers it: a pastry and coffee for breakfast (3 €), a prato do dia at lunch (10 to 12 €), and dinner in a tasca (15 to 20 €). Markets such as Time Out are dearer than they look.",
    };
    stub.respondWith((request) => replies[wireText(request.messages.at(-1)!)] ?? "Happy to help with that.");
    await server.client.threads.create({ metadata: { title: "Sourdough starter schedule" } });
    await server.client.threads.create({ metadata: { title: "Refactor the invoice exporter to stream rows instead of building one big array" } });
    await server.client.threads.create({ metadata: { title: "Birthday ideas" } });
    await openPage();
    for (const question of Object.keys(replies)) await send(question);
    await page.mouse.move(DESKTOP.width / 2, DESKTOP.height / 2);
    const folder = join(process.env.SCREENSHOTS_DIR ?? join(tmpdir(), "screenshots"), "web-chat");
    mkdirSync(folder, { recursive: true });
    const shots: string[] = [];
    const shoot = async (name: string) => {
      const path = join(folder, `${name}.png`);
      await page.screenshot({ path });
      shots.push(path);
    };
    await shoot("desktop-1280x800");
    await page.setViewportSize(PHONE);
    await page.evaluate(() => document.querySelector("#messages")!.scrollTo({ top: 1e6 }));
    await shoot("phone-390x844");
    await page.click("#chat-menu");
    await shoot("phone-390x844-menu");
    await page.keyboard.press("Escape");
    await page.click("#open-sidebar");
    await expect.poll(async () => (await page.locator("#sidebar").boundingBox())?.x).toBe(0);
    await shoot("phone-390x844-chats");
    await page.click("#close-sidebar");
    // Waiting for a reply: the typing indicator; then scrolled up, the way back down.
    const release = stub.holdNextReply();
    await submit("Is the Lisboa Card worth it?");
    await page.waitForSelector(".typing");
    await shoot("phone-390x844-waiting");
    await page.evaluate(() => document.querySelector("#messages")!.scrollBy({ top: -300 }));
    await page.waitForSelector("#scroll-down:not([hidden])");
    await shoot("phone-390x844-scrolled-up");
    release();
    await page.waitForSelector("#stop", { state: "hidden" });
    await page.click("#scroll-down");
    await page.waitForSelector("#scroll-down", { state: "hidden" });
    await page.setViewportSize(DESKTOP);
    await page.click("#manage-memory");
    await page.waitForSelector("#memory-dialog[open]");
    await shoot("desktop-1280x800-memory");
    console.log(`Screenshots of the web chat:\n${shots.map((path) => `  ${path}`).join("\n")}`);
    expect(shots).toHaveLength(7);
  });
});
