/// <reference lib="dom" />
/**
 * The web chat in a real browser (headless Chromium through playwright-core) against the server
 * on 127.0.0.1 and the stub model: what a person sees when they chat, reload, switch, fork,
 * rename, delete, stop, and meet a failing provider.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ensureChromium, launchChromium } from "../support/browser.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";
import { PROCESS_TEST_TIMEOUTS, PROCESS_WAIT_MS as BROWSER_WAIT_MS } from "../support/spawn.js";
import { until } from "../support/until.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

const unavailable = ensureChromium();
if (unavailable) console.warn(`\n\n!!! SKIPPING THE BROWSER TESTS OF THE WEB CHAT: ${unavailable} !!!\n\n`);

const API_KEY = "owner-key-0123456789abcdef";

describe.skipIf(unavailable !== null)("web chat page", () => {
  let browser: Browser;
  let stub: OpenAiStub;
  let server: TestServer;
  /** One tab for the whole file, opened on each test's server in turn. */
  let page: Page;
  const DESKTOP = { width: 1100, height: 760 };
  /** Requests the page made to anything but our server: there must be none (no CDN). */
  let foreign: string[];
  /** Errors thrown in the page. */
  let pageErrors: string[];

  beforeAll(async () => {
    browser = await launchChromium();
    stub = await startOpenAiStub();
    // A new tab costs a renderer's start; each test's server has a port, so an origin, of its
    // own, and the tab leaves each test's page (and storage) behind before the next one.
    const context = await browser.newContext({ viewport: DESKTOP });
    // A bound for when the page is broken, generous for a busy machine.
    context.setDefaultTimeout(BROWSER_WAIT_MS);
    page = await context.newPage();
    page.on("request", (request) => {
      if (!request.url().startsWith(server.baseUrl) && !/^(data|about):/.test(request.url())) foreign.push(request.url());
    });
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    await stub?.close();
  });

  /** Opens the chat of `server` in the tab, at `viewport`'s size; it records requests that leave it. */
  async function openPage(viewport = DESKTOP): Promise<void> {
    await page.setViewportSize(viewport);
    await page.goto(`${server.baseUrl}/`);
  }

  /** Leaves the chat: its storage cleared, its connections closed, the tab on a blank page. */
  async function leavePage(): Promise<void> {
    if (page.url().startsWith(server.baseUrl)) await page.evaluate(() => localStorage.clear());
    await page.goto("about:blank");
  }

  /**
   * Each test of the block gets a fresh server (`options` as for `startServer`; starting one
   * takes some 50 ms) and, unless told otherwise, the chat open on it; after it, the page may have
   * reached no other origin nor thrown.
   */
  function usePage(options: Parameters<typeof startServer>[1] & { openAtOnce?: boolean }) {
    beforeEach(async () => {
      stub.reset();
      foreign = [];
      pageErrors = [];
      server = await startServer(stub, options);
      if (options.openAtOnce !== false) await openPage();
    });
    afterEach(async () => {
      await leavePage();
      await server.close();
      expect(foreign).toEqual([]);
      expect(pageErrors).toEqual([]);
    });
  }

  /** Types a message and presses Enter; resolves when the finished reply is on screen. */
  async function send(text: string) {
    const before = await page.locator(".message.assistant").count();
    await page.fill("#prompt", text);
    await page.press("#prompt", "Enter");
    await page.waitForFunction((count) => document.querySelectorAll(".message.assistant:not(.streaming)").length > count && document.querySelector("#stop")?.hasAttribute("hidden"), before);
  }

  const texts = (selector: string) => page.locator(`${selector} .message-text`).allInnerTexts();
  const threadTitles = () => page.locator(".thread-title").allInnerTexts();
  const currentThreadId = () => page.evaluate(() => new URLSearchParams(location.hash.slice(1)).get("thread"));

  describe("without API keys", () => {
    usePage({});

    it("streams the reply into the page token by token, and keeps the chat across a reload", async () => {
      // The model sends its first words, then holds the rest until the page has shown them.
      let release!: () => void;
      stub.inject({ kind: "pause", afterChunks: 3, resume: new Promise<void>((resolve) => (release = resolve)) });
      stub.respondWith(() => "one two three four five six");
      await page.fill("#prompt", "Count to six");
      await page.press("#prompt", "Enter");
      // While the reply streams, the page shows part of it, not all or nothing.
      const partial = await page.waitForFunction(() => {
        const text = document.querySelector(".message.assistant.streaming .message-text")?.textContent ?? "";
        return text !== "" && text !== "one two three four five six" ? text : null;
      });
      const seen = (await partial.jsonValue()) as string;
      expect("one two three four five six".startsWith(seen)).toBe(true);
      release();
      await page.waitForSelector(".message.assistant:not(.streaming)");
      expect(await texts(".message.assistant")).toEqual(["one two three four five six"]);
      expect(await texts(".message.user")).toEqual(["Count to six"]);
      expect(await threadTitles()).toEqual(["Count to six"]);
      const threadId = await currentThreadId();

      await page.reload();
      await page.waitForSelector(".message.assistant");
      expect(await currentThreadId()).toBe(threadId);
      expect(await texts(".message.user")).toEqual(["Count to six"]);
      expect(await texts(".message.assistant")).toEqual(["one two three four five six"]);
      // What the page shows is what the thread holds.
      const state = await server.client.threads.getState<{ messages: Array<{ content: string }> }>(threadId!);
      expect(state.values.messages.map((message) => message.content)).toEqual(["Count to six", "one two three four five six"]);
    });

    it("picks up a reply still streaming after a reload, and finishes it", async () => {
      // The reply stops after its first words until the test lets it go: no race with the clock,
      // however long the reload takes on a busy machine.
      let release!: () => void;
      stub.inject({ kind: "pause", afterChunks: 3, resume: new Promise<void>((resolve) => (release = resolve)) });
      stub.respondWith(() => "this reply keeps coming after the reload");
      await page.fill("#prompt", "Keep going");
      await page.press("#prompt", "Enter");
      await page.waitForSelector(".message.assistant.streaming");
      await page.reload();
      // The page joins the run: the question is shown at once, the reply streams in again and ends whole.
      await page.waitForSelector(".message.assistant.streaming");
      expect(await texts(".message.user")).toEqual(["Keep going"]);
      await page.waitForSelector("#stop:not([hidden])");
      release();
      await page.waitForSelector(".message.assistant:not(.streaming)");
      expect(await texts(".message.assistant")).toEqual(["this reply keeps coming after the reload"]);
      expect(await texts(".message.user")).toEqual(["Keep going"]);
    });

    it("keeps a reply in its own chat when another chat is opened mid-stream, and rejoins it on return", async () => {
      await send("My name is Ada");
      const first = await currentThreadId();
      await page.click("#new-thread");
      // The second chat's reply is held twice: after its first words until the page has left that
      // chat, and after two more until the page is back on it, so that it is still running then.
      let leftSecond!: () => void;
      let backOnSecond!: () => void;
      stub.inject({
        kind: "pauses",
        stops: [
          { afterChunks: 3, resume: new Promise<void>((resolve) => (leftSecond = resolve)) },
          { afterChunks: 5, resume: new Promise<void>((resolve) => (backOnSecond = resolve)) },
        ],
      });
      stub.respondWith(() => "a slow reply that belongs to the second chat");
      await page.fill("#prompt", "Second chat");
      await page.press("#prompt", "Enter");
      await page.waitForSelector(".message.assistant.streaming");
      const second = await currentThreadId();
      await page.click(`.thread[data-thread-id="${first}"] .thread-open`);
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);
      // While the other reply goes on (the model streams two more words of it), this chat shows
      // only its own messages, and can be used.
      const otherReply = stub.requests.at(-1)!;
      const shownAt = otherReply.chunksSent;
      leftSecond();
      await until(() => otherReply.chunksSent >= shownAt + 2 || otherReply.complete);
      expect(await texts(".message.assistant")).toEqual(["Nice to meet you, Ada!"]);
      expect(await page.locator("#stop").isHidden()).toBe(true);
      // Back on the second chat, the page rejoins its run, still under way, and shows it end whole.
      await page.click(`.thread[data-thread-id="${second}"] .thread-open`);
      await page.waitForSelector(".message.assistant.streaming");
      backOnSecond();
      await page.waitForSelector(".message.assistant:not(.streaming)");
      await expect.poll(() => texts(".message.assistant")).toEqual(["a slow reply that belongs to the second chat"]);
      expect(await texts(".message.user")).toEqual(["Second chat"]);
    });

    it("cancels a run stopped before its first event arrived", async () => {
      await send("My name is Ada");
      const threadId = await currentThreadId();
      stub.delayEveryReply(500);
      await page.fill("#prompt", "Stop me at once");
      // Send and Stop in one go, before the server has said anything.
      await page.evaluate(() => {
        (document.querySelector("#composer") as HTMLFormElement).requestSubmit();
        (document.querySelector("#stop") as HTMLButtonElement).click();
      });
      await expect.poll(() => page.locator("#status").innerText()).toBe("Stopped");
      await expect.poll(async () => (await server.client.runs.list(threadId!))[0]?.status).toBe("interrupted");
      const state = await server.client.threads.getState<{ messages: Array<{ content: string }> }>(threadId!);
      expect(state.values.messages.map((message) => message.content)).toEqual(["My name is Ada", "Nice to meet you, Ada!", "Stop me at once"]);
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada", "Stop me at once"]);
    });

    it("sends nothing when a new chat's first message is stopped at once, and gives the text back", async () => {
      // The empty chat's deletion is held back, as a slow server would: the text must be back
      // as soon as "Stopped" shows, not once the chat is gone.
      let releaseDelete!: () => void;
      const deleteHeld = new Promise<void>((resolve) => (releaseDelete = resolve));
      await page.route(/\/threads\/[^/?]+$/, async (route) => {
        if (route.request().method() === "DELETE") await deleteHeld;
        await route.continue();
      });
      try {
        await page.fill("#prompt", "Never mind");
        await page.evaluate(() => {
          (document.querySelector("#composer") as HTMLFormElement).requestSubmit();
          (document.querySelector("#stop") as HTMLButtonElement).click();
        });
        await expect.poll(() => page.locator("#status").innerText()).toBe("Stopped");
        expect(await page.inputValue("#prompt")).toBe("Never mind");
      } finally {
        releaseDelete();
        // Once the held request's handler is done: one still running when its route goes finds
        // its request already let through, and throws.
        await page.unrouteAll({ behavior: "wait" });
      }
      expect(stub.requests).toHaveLength(0);
      // Nor is an empty chat left behind.
      await expect.poll(currentThreadId).toBeNull();
      expect(await server.client.threads.search()).toEqual([]);
      await expect.poll(() => page.locator(".thread").count()).toBe(0);
    });

    it("lets keyboard users reach a chat's rename and delete buttons", async () => {
      await send("My name is Ada");
      await page.click("#new-thread");
      await send("My name is Bob");
      const other = page.locator(".thread").nth(1);
      await other.locator(".thread-open").focus();
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.classList.contains("thread-rename"))).toBe(true);
      expect(await other.locator(".thread-rename").evaluate((button) => getComputedStyle(button).opacity)).toBe("1");
      await page.keyboard.press("Enter");
      await page.keyboard.type("Renamed by keyboard");
      await page.keyboard.press("Enter");
      await expect.poll(threadTitles).toEqual(["My name is Bob", "Renamed by keyboard"]);
      expect(await page.evaluate(() => document.activeElement?.classList.contains("thread-rename"))).toBe(true);
    });

    it("remembers within a chat, switches between chats, and searches them", async () => {
      await send("My name is Ada");
      const first = await currentThreadId();
      await page.click("#new-thread");
      await expect.poll(() => page.locator(".message").count()).toBe(0);
      await send("My name is Bob");
      await send("What is my name?");
      expect(await texts(".message.assistant")).toEqual(["Nice to meet you, Bob!", "Your name is Bob."]);
      // Newest first.
      expect(await threadTitles()).toEqual(["My name is Bob", "My name is Ada"]);

      await page.click(`.thread[data-thread-id="${first}"] .thread-open`);
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);
      expect(await currentThreadId()).toBe(first);
      await send("What is my name?");
      expect(await texts(".message.assistant")).toEqual(["Nice to meet you, Ada!", "Your name is Ada."]);
      // Each chat's model call saw its own history only.
      const lastRequest = stub.requests.at(-1)!.body.messages.map(wireText);
      expect(lastRequest).toContain("My name is Ada");
      expect(lastRequest).not.toContain("My name is Bob");

      await page.fill("#thread-search", "bob");
      await expect.poll(threadTitles).toEqual(["My name is Bob"]);
      await page.fill("#thread-search", "nobody");
      await expect.poll(threadTitles).toEqual([]);
      await expect(page.locator("#thread-empty").innerText()).resolves.toBe("No chat matches.");
      await page.fill("#thread-search", "");
      await expect.poll(threadTitles).toEqual(["My name is Ada", "My name is Bob"]);
    });

    it("titles chats made elsewhere from their first message, renames and deletes with confirmation", async () => {
      const made = await server.client.threads.create();
      await server.client.runs.wait(made.thread_id, "agent", { input: { messages: [{ role: "user", content: "Made through the API" }] } });
      await page.reload();
      await expect.poll(threadTitles).toEqual(["Made through the API"]);

      await page.hover(`.thread[data-thread-id="${made.thread_id}"]`);
      await page.click(`.thread[data-thread-id="${made.thread_id}"] .thread-rename`);
      await page.fill(".thread-rename-input", "Renamed chat");
      await page.press(".thread-rename-input", "Enter");
      await expect.poll(threadTitles).toEqual(["Renamed chat"]);
      expect((await server.client.threads.get(made.thread_id)).metadata).toMatchObject({ title: "Renamed chat" });

      // Dismissing the confirmation keeps the chat; accepting deletes it.
      page.once("dialog", (dialog) => void dialog.dismiss());
      await page.click(`.thread[data-thread-id="${made.thread_id}"] .thread-delete`);
      await expect.poll(threadTitles).toEqual(["Renamed chat"]);
      page.once("dialog", (dialog) => {
        expect(dialog.message()).toContain("Renamed chat");
        void dialog.accept();
      });
      await page.click(`.thread[data-thread-id="${made.thread_id}"] .thread-delete`);
      await expect.poll(threadTitles).toEqual([]);
      expect((await server.request(`/threads/${made.thread_id}`)).status).toBe(404);
    });

    it("shows a provider error in the page, keeps the typed message and leaves the chat as it was", async () => {
      await send("My name is Ada");
      const threadId = await currentThreadId();
      stub.inject({ kind: "status", status: 400, message: "The model refused this request" });
      await page.fill("#prompt", "This one fails");
      await page.press("#prompt", "Enter");
      await page.waitForSelector("#alert:not([hidden])");
      expect(await page.locator("#alert-text").innerText()).toContain("The model refused this request");
      // Nothing lost: the text is back in the box, and the thread holds only the first turn.
      await expect.poll(() => page.inputValue("#prompt")).toBe("This one fails");
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);
      const state = await server.client.threads.getState<{ messages: unknown[] }>(threadId!);
      expect(state.values.messages).toHaveLength(2);

      // Sending it again works.
      await page.press("#prompt", "Enter");
      await page.waitForFunction(() => document.querySelectorAll(".message.assistant:not(.streaming)").length === 2);
      expect(await texts(".message.assistant")).toEqual(["Nice to meet you, Ada!", "You said: This one fails"]);
    });

    it("says so when the server refuses a run (no model configured)", async () => {
      await leavePage();
      await server.close();
      server = await startServer(undefined);
      await openPage();
      await page.fill("#prompt", "Hello?");
      await page.press("#prompt", "Enter");
      await page.waitForSelector("#alert:not([hidden])");
      expect(await page.locator("#alert-text").innerText()).toContain("OPENAI_API_KEY");
      expect(await page.inputValue("#prompt")).toBe("Hello?");
    });

    it("stops a reply with the Stop button: the question stays, and so do the words already shown", async () => {
      // The reply stops after its first words and never goes on by itself: Stop cannot come too late.
      stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<never>(() => undefined) });
      stub.respondWith(() => "a long answer that takes its time to arrive");
      await page.fill("#prompt", "Tell me everything");
      await page.press("#prompt", "Enter");
      await page.waitForSelector(".message.assistant.streaming");
      await page.click("#stop");
      await page.waitForSelector("#stop", { state: "hidden" });
      await expect.poll(() => page.locator("#status").innerText()).toBe("Stopped");
      await expect.poll(() => texts(".message.user")).toEqual(["Tell me everything"]);
      // The server keeps what was streamed, marked as stopped (how the page shows the mark is the page's).
      await expect.poll(() => texts(".message.assistant")).toEqual(["a"]);
      const threadId = await currentThreadId();
      const [run] = await server.client.runs.list(threadId!);
      expect(run?.status).toBe("interrupted");
      const kept = (await server.client.threads.getState(threadId!)).values as { messages: Array<{ content: string; response_metadata?: Record<string, unknown> }> };
      expect(kept.messages.map((message) => [message.content, message.response_metadata?.stopped])).toEqual([["Tell me everything", undefined], ["a", true]]);
      expect(await page.locator("#alert").isHidden()).toBe(true);
    });

    it("forks when an earlier message is edited, and keeps the old branch browsable", async () => {
      await send("My name is Ada");
      await send("What is my name?");
      await send("Thanks");
      // Edit the second user message: the fork starts after the first turn.
      await page.hover(".message.user >> nth=1");
      await page.click(".message.user >> nth=1 >> .message-edit");
      await page.fill(".message-editor textarea", "My name is Bob");
      await page.press(".message-editor textarea", "Enter");
      await expect.poll(() => page.locator(".message.user >> nth=1 >> .versions-label").innerText().catch(() => "")).toBe("2/2");
      expect(await texts(".message.user")).toEqual(["My name is Ada", "My name is Bob"]);
      expect(await texts(".message.assistant")).toEqual(["Nice to meet you, Ada!", "Nice to meet you, Bob!"]);
      // The model was sent the history up to the fork point, not the old branch.
      expect(stub.requests.at(-1)!.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "My name is Ada", "Nice to meet you, Ada!", "My name is Bob"]);

      await page.click(".message.user >> nth=1 >> .versions-previous");
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada", "What is my name?", "Thanks"]);
      expect(await page.locator(".message.user >> nth=1 >> .versions-label").innerText()).toBe("1/2");
      await page.click(".message.user >> nth=1 >> .versions-next");
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada", "My name is Bob"]);

      // Continuing the new branch, and the first message can be edited too.
      await send("What is my name?");
      expect((await texts(".message.assistant")).at(-1)).toBe("Your name is Bob.");
      await page.hover(".message.user >> nth=0");
      await page.click(".message.user >> nth=0 >> .message-edit");
      await page.fill(".message-editor textarea", "My name is Cy");
      await page.press(".message-editor textarea", "Enter");
      await expect.poll(() => page.locator(".message.user >> nth=0 >> .versions-label").innerText().catch(() => "")).toBe("2/2");
      expect(await texts(".message.assistant")).toEqual(["Nice to meet you, Cy!"]);
      expect(stub.requests.at(-1)!.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "My name is Cy"]);

      // After a reload the chat shows its newest branch, and the others are still there.
      await page.reload();
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Cy"]);
      await page.click(".message.user >> nth=0 >> .versions-previous");
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada", "My name is Bob", "What is my name?"]);
    });

    it("creates an assistant in the editor, chats through it, edits it (a new version), and shows it when its chat is reopened", async () => {
      /** The system prompt of the newest request the model received. */
      const systemPrompt = () => (stub.requests.at(-1)?.body.messages ?? []).filter((message) => message.role === "system").map(wireText).join("\n");
      const picked = () => page.locator("#assistant option:checked").innerText();
      // The default assistant comes first; it is read-only, and offers a copy instead.
      await expect.poll(() => page.locator("#assistant option").allInnerTexts()).toEqual(["agent (default)"]);
      await page.click("#edit-assistant");
      await page.waitForSelector("#assistant-dialog[open]");
      expect(await page.locator("#assistant-save").isHidden()).toBe(true);
      expect(await page.locator("#assistant-prompt").getAttribute("readonly")).not.toBeNull();
      await page.click("#assistant-duplicate");
      expect(await page.inputValue("#assistant-name")).toBe("Copy of agent");
      await page.fill("#assistant-name", "Pirate");
      await page.fill("#assistant-prompt", "Speak like a pirate.");
      await page.fill("#assistant-temperature", "0.3");
      // Keyboard only: Enter in a field saves.
      await page.press("#assistant-name", "Enter");
      await page.waitForSelector("#assistant-dialog", { state: "hidden" });
      await expect.poll(picked).toBe("Pirate");
      await send("My name is Ada");
      expect(systemPrompt()).toContain("Speak like a pirate.");
      const [pirate] = await server.client.assistants.search({ name: "Pirate" });
      expect(pirate?.config.configurable).toEqual({ system_prompt: "Speak like a pirate.", temperature: 0.3 });
      const pirateChat = await currentThreadId();

      // Saving an edit makes version 2; the next reply uses it, in the same chat.
      await page.click("#edit-assistant");
      expect(await page.locator("#assistant-heading").innerText()).toBe("Edit Pirate, version 1");
      expect(await page.inputValue("#assistant-prompt")).toBe("Speak like a pirate.");
      await page.fill("#assistant-prompt", "Speak like a pirate, briefly.");
      await page.click("#assistant-save");
      await page.waitForSelector("#assistant-dialog", { state: "hidden" });
      await send("What is my name?");
      expect(systemPrompt()).toContain("Speak like a pirate, briefly.");
      expect((await texts(".message.assistant")).at(-1)).toBe("Your name is Ada.");
      expect((await server.client.assistants.get(pirate!.assistant_id)).version).toBe(2);

      // A new chat with the default assistant; reopening the pirate's chat (or reloading it) shows its assistant.
      await page.click("#new-thread");
      await page.selectOption("#assistant", { label: "agent (default)" });
      await send("Hello");
      expect(systemPrompt()).not.toContain("pirate");
      await page.click('.thread:has-text("My name is Ada") .thread-open');
      await expect.poll(currentThreadId).toBe(pirateChat);
      await expect.poll(picked).toBe("Pirate");
      await page.reload();
      await page.waitForSelector(".message.assistant");
      await expect.poll(picked).toBe("Pirate");

      // The API's refusal is shown in the editor: here the assistant was deleted elsewhere.
      await server.client.assistants.delete(pirate!.assistant_id);
      await page.click("#edit-assistant");
      await page.fill("#assistant-prompt", "Speak like a parrot.");
      await page.click("#assistant-save");
      await expect.poll(() => page.locator("#assistant-error").innerText()).toBe(`Assistant "${pirate!.assistant_id}" not found`);
      await page.keyboard.press("Escape");
      await page.waitForSelector("#assistant-dialog", { state: "hidden" });
    });

    it("shows what the agent remembers in the Memory dialog, newest first and a page at a time, forgets one by keyboard and then everything after confirming", async () => {
      const store = server.client.store;
      const user = ["memories", "local"];
      await store.putItem(user, "name", { text: "The user's name is Ada" });
      // The second is newer: its time must differ from the first's.
      const first = await store.getItem(user, "name");
      await until(() => Date.now() > Date.parse(first!.updatedAt) + 1);
      await store.putItem(user, "language", { text: "Prefers answers in French" });
      const memories = () => page.locator("#memory-list .memory-text").allInnerTexts();

      await page.click("#manage-memory");
      await page.waitForSelector("#memory-dialog[open]");
      await expect.poll(memories).toEqual(["Prefers answers in French", "The user's name is Ada"]);
      expect(await page.locator("#memory-empty").isHidden()).toBe(true);

      // Keyboard only: Tab reaches each memory's delete button, named after what it forgets.
      await page.locator("#memory-list .memory-delete").first().focus();
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Forget “The user's name is Ada”");
      await page.keyboard.press("Enter");
      await expect.poll(memories).toEqual(["Prefers answers in French"]);
      expect(await store.getItem(user, "name")).toBeNull();
      expect(await store.getItem(user, "language")).not.toBeNull();

      // A page at a time: twenty more make two pages.
      for (let index = 1; index <= 20; index += 1) await store.putItem(user, `fact_${index}`, { text: `Fact number ${index}` });
      await page.click("#memory-close");
      await page.click("#manage-memory");
      await expect.poll(async () => (await memories()).length).toBe(20);
      await page.click("#memory-more");
      await expect.poll(async () => (await memories()).length).toBe(21);
      expect(await page.locator("#memory-more").isHidden()).toBe(true);

      // Dismissing the confirmation keeps everything; accepting forgets everything, the memories not shown too.
      page.once("dialog", (dialog) => void dialog.dismiss());
      await page.click("#memory-clear");
      expect(await memories()).toHaveLength(21);
      await page.click("#memory-close");
      await page.click("#manage-memory");
      await expect.poll(async () => (await memories()).length).toBe(20);
      page.once("dialog", (dialog) => {
        expect(dialog.message()).toContain("Forget everything");
        void dialog.accept();
      });
      await page.click("#memory-clear");
      await page.waitForSelector("#memory-empty:not([hidden])");
      expect(await page.locator("#memory-empty").innerText()).toContain("LONG_TERM_MEMORY=off");
      expect(await page.locator("#memory-clear").isHidden()).toBe(true);
      expect((await store.searchItems(["memories"])).items).toEqual([]);
      await page.keyboard.press("Escape");
      await page.waitForSelector("#memory-dialog", { state: "hidden" });
    });

    it("Shift+Enter writes a new line and Enter sends the message", async () => {
      await page.click("#prompt");
      await page.keyboard.type("first line");
      await page.keyboard.press("Shift+Enter");
      await page.keyboard.type("second line");
      expect(await page.inputValue("#prompt")).toBe("first line\nsecond line");
      expect(await page.locator(".message").count()).toBe(0);
      await page.keyboard.press("Enter");
      await page.waitForSelector(".message.assistant:not(.streaming)");
      expect(await texts(".message.user")).toEqual(["first line\nsecond line"]);
      expect(await page.inputValue("#prompt")).toBe("");
    });

    it("fits a phone-width window: the chat list is a drawer, nothing scrolls sideways", async () => {
      await openPage({ width: 390, height: 780 });
      await send("My name is Ada");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      expect(await page.locator("#composer").isVisible()).toBe(true);
      // The header's actions are in its menu, on screen once it is open.
      await page.click("#chat-menu");
      const memoryButton = await page.locator("#manage-memory").boundingBox();
      expect(memoryButton!.x + memoryButton!.width).toBeLessThanOrEqual(390);
      await page.keyboard.press("Escape");
      // The list is off screen until the menu button opens it.
      const hiddenBox = await page.locator("#sidebar").boundingBox();
      expect((hiddenBox?.x ?? 0) + (hiddenBox?.width ?? 0)).toBeLessThanOrEqual(0);
      await page.click("#open-sidebar");
      await expect.poll(async () => (await page.locator("#sidebar").boundingBox())?.x).toBe(0);
      expect(await threadTitles()).toEqual(["My name is Ada"]);
      await page.click("#new-thread");
      await expect.poll(async () => ((await page.locator("#sidebar").boundingBox())?.x ?? 0) < 0).toBe(true);
    });
  });

  describe("with documents", () => {
    usePage({ env: { EMBEDDING_MODEL: "stub-embedding", CHUNK_SIZE: "100", CHUNK_OVERLAP: "10" } });

    it("uploads files to a collection, answers from them with citations, and deletes them", async () => {
      // Search for the question; answer with the cited passage's first sentence.
      stub.respondWith((request) => {
        const last = request.messages.at(-1)!;
        if (last.role === "tool") return `${/[^.\n]*30 days[^.]*\./.exec(wireText(last))?.[0]?.trim() ?? "Not found."} [1]`;
        const offered = ((request.tools as Array<{ function: { name: string } }> | undefined) ?? []).length > 0;
        return offered ? { tool_calls: [{ name: "search_documents", arguments: { query: wireText(last) } }] } : `You said: ${wireText(last)}`;
      });
      await page.click("#manage-documents");
      await page.fill("#collection-name", "Handbook");
      await page.press("#collection-name", "Enter");
      await page.waitForSelector("#collection-detail:not([hidden])");
      await page.setInputFiles("#upload", [
        { name: "refund-policy.md", mimeType: "text/markdown", buffer: Buffer.from("# Refunds\n\nCustomers may return any item within 30 days of delivery for a full refund.") },
        { name: "shipping.txt", mimeType: "text/plain", buffer: Buffer.from("Orders ship from Lyon within two business days.") },
        { name: "photo.png", mimeType: "image/png", buffer: Buffer.from("not text") },
      ]);
      await expect.poll(() => page.locator(".document-source").allInnerTexts()).toEqual(expect.arrayContaining(["refund-policy.md", "shipping.txt"]));
      // The one file of another kind is refused with a message, the others are kept.
      expect(await page.locator("#documents-error").innerText()).toContain("photo.png");
      expect(await page.locator(".document-source").count()).toBe(2);
      await page.click("#documents-close");

      // A new chat bound to the collection.
      await page.selectOption("#collection", { label: "Handbook" });
      await send("How many days do I have to return an item?");
      expect(await texts(".message.assistant")).toEqual(["Customers may return any item within 30 days of delivery for a full refund. [1]"]);
      expect(await page.locator(".tool-call").innerText()).toBe("Searched the documents for “How many days do I have to return an item?”");
      const source = page.locator(".citations summary");
      expect(await source.innerText()).toMatch(/^\[1\] refund-policy\.md, part \d+$/);
      await source.click();
      expect(await page.locator(".citations blockquote").innerText()).toContain("30 days");
      // Kept with the chat: after a reload it is still bound, and the citation still shown.
      await page.reload();
      await page.waitForSelector(".citations summary");
      expect(await page.locator("#collection option:checked").innerText()).toBe("Handbook");

      // Unbinding: the next answer uses no tool.
      await page.selectOption("#collection", "");
      await send("Hello");
      expect((await texts(".message.assistant")).at(-1)).toBe("You said: Hello");

      // Deleting a document from the dialog removes it from search.
      await page.click("#manage-documents");
      await page.click(".collection-open");
      page.once("dialog", (dialog) => void dialog.accept());
      await page.click('.document-list li:has-text("refund-policy.md") .document-delete');
      await expect.poll(() => page.locator(".document-source").allInnerTexts()).toEqual(["shipping.txt"]);
      const [collection] = (await server.request("/collections")).body as Array<{ collection_id: string }>;
      const found = (await server.request(`/collections/${collection!.collection_id}/search`, { body: { query: "return refund days" } })).body as { results: Array<{ source: string }> };
      expect(found.results.map((result) => result.source)).not.toContain("refund-policy.md");
    });
  });

  describe("with API keys", () => {
    // The page is opened by the test, once its threads exist.
    usePage({ env: { API_KEYS: `alice:${API_KEY}` }, apiKey: API_KEY, openAtOnce: false });

    it("asks for the key, refuses a wrong one, and then works with the right one", async () => {
      await server.client.threads.create({ metadata: { title: "Alice's chat" } });
      await openPage();
      await page.waitForSelector("#key-dialog[open]");
      await page.fill("#key-input", "wrong-key-0123456789");
      await page.press("#key-input", "Enter");
      await page.waitForSelector("#key-dialog[open] #key-error:not([hidden])");
      await page.fill("#key-input", API_KEY);
      await page.press("#key-input", "Enter");
      await expect.poll(threadTitles).toEqual(["Alice's chat"]);
      await send("My name is Ada");
      expect(await texts(".message.assistant")).toEqual(["Nice to meet you, Ada!"]);
      // The key is kept for the next visit.
      await page.reload();
      await expect.poll(threadTitles).toEqual(["My name is Ada", "Alice's chat"]);
      expect(await page.locator("#key-dialog[open]").count()).toBe(0);
    });
  });
});
