/// <reference lib="dom" />
/**
 * The web chat's history in a real browser (headless Chromium through playwright-core): a long
 * chat opens after reading what its view needs, not every past state; Regenerate keeps both
 * replies; a first message that gets no reply leaves no empty chat; a stopped reply keeps its
 * label; the chat list's search looks inside chats.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ensureChromium, launchChromium } from "../support/browser.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";
import { PROCESS_TEST_TIMEOUTS, PROCESS_WAIT_MS as BROWSER_WAIT_MS } from "../support/spawn.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

const unavailable = ensureChromium();
if (unavailable) console.warn(`\n\n!!! SKIPPING THE BROWSER TESTS OF THE WEB CHAT'S HISTORY: ${unavailable} !!!\n\n`);

/** A chat seeded as if it had this many turns, one checkpoint each. */
const LONG_CHAT_TURNS = 1000;
/** What the page may read of the API to show the long chat's latest messages: about its current state. */
const LONG_CHAT_OPEN_BYTES = 400_000;
/** ...and with its branches found too (the tree's ids and the one branch that forks from it). */
const LONG_CHAT_TOTAL_BYTES = 700_000;

describe.skipIf(unavailable !== null)("web chat history", () => {
  let browser: Browser;
  let stub: OpenAiStub;
  let server: TestServer;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    browser = await launchChromium();
    stub = await startOpenAiStub();
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
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
    server = await startServer(stub);
    await page.goto(`${server.baseUrl}/`);
  });
  afterEach(async () => {
    if (page.url().startsWith(server.baseUrl)) await page.evaluate(() => localStorage.clear());
    await page.goto("about:blank");
    await server.close();
    expect(pageErrors).toEqual([]);
  });

  /** Types a message and presses Enter; resolves when the finished reply is on screen. */
  async function send(text: string) {
    const before = await page.locator(".message.assistant").count();
    await page.fill("#prompt", text);
    await page.press("#prompt", "Enter");
    await page.waitForFunction((count) => document.querySelectorAll(".message.assistant:not(.streaming)").length > count && document.querySelector("#stop")?.hasAttribute("hidden"), before);
  }

  const texts = (selector: string) => page.locator(`${selector} .message-text`).allInnerTexts();
  const currentThreadId = () => page.evaluate(() => new URLSearchParams(location.hash.slice(1)).get("thread"));
  const label = (selector: string) => page.locator(`${selector} >> .versions-label`).innerText().catch(() => "");
  const threadIds = async () => ((await server.request("/threads/search", { body: { limit: 100, select: ["thread_id"] } })).body as Array<{ thread_id: string }>).map((thread) => thread.thread_id);

  describe("Regenerate", () => {
    /** Each reply says how many the model gave so far, so versions tell apart. */
    const numberedReplies = () => {
      let count = 0;
      stub.respondWith((request) => `Reply ${++count} to ${wireText(request.messages.at(-1)!)}`);
    };

    it("asks for the last reply again, keeping both versions browsable, also after a reload", async () => {
      numberedReplies();
      await send("Hello");
      await send("Tell me a joke");
      expect(await page.locator(".message-regenerate").count()).toBe(1);
      await page.click(".message.assistant >> nth=1 >> .message-regenerate");
      await expect.poll(() => label(".message.assistant >> nth=1")).toBe("2/2");
      expect(await texts(".message.user")).toEqual(["Hello", "Tell me a joke"]);
      expect(await texts(".message.assistant")).toEqual(["Reply 1 to Hello", "Reply 3 to Tell me a joke"]);
      // The model saw the same conversation again, without the reply it replaces.
      expect(stub.requests.at(-1)!.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "Hello", "Reply 1 to Hello", "Tell me a joke"]);
      // The thread holds the question once, and the new reply.
      const threadId = (await currentThreadId())!;
      const state = await server.client.threads.getState<{ messages: Array<{ content: string }> }>(threadId);
      expect(state.values.messages.map((message) => message.content)).toEqual(["Hello", "Reply 1 to Hello", "Tell me a joke", "Reply 3 to Tell me a joke"]);

      await page.click(".message.assistant >> nth=1 >> .versions-previous");
      await expect.poll(() => texts(".message.assistant")).toEqual(["Reply 1 to Hello", "Reply 2 to Tell me a joke"]);
      expect(await label(".message.assistant >> nth=1")).toBe("1/2");

      await page.reload();
      await expect.poll(() => label(".message.assistant >> nth=1")).toBe("2/2");
      expect(await texts(".message.assistant")).toEqual(["Reply 1 to Hello", "Reply 3 to Tell me a joke"]);
      await page.click(".message.assistant >> nth=1 >> .versions-previous");
      await expect.poll(() => texts(".message.assistant")).toEqual(["Reply 1 to Hello", "Reply 2 to Tell me a joke"]);
    });

    it("regenerates a chat's first reply, and again, each version kept", async () => {
      numberedReplies();
      await send("Hello");
      await page.click(".message-regenerate");
      await expect.poll(() => label(".message.assistant")).toBe("2/2");
      await page.click(".message-regenerate");
      await expect.poll(() => label(".message.assistant")).toBe("3/3");
      expect(await texts(".message.assistant")).toEqual(["Reply 3 to Hello"]);
      expect(stub.requests.at(-1)!.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "Hello"]);
      await page.click(".versions-previous");
      await expect.poll(() => texts(".message.assistant")).toEqual(["Reply 2 to Hello"]);
      await page.click(".versions-previous");
      await expect.poll(() => texts(".message.assistant")).toEqual(["Reply 1 to Hello"]);
      expect(await label(".message.assistant")).toBe("1/3");
      // Going on from an older version continues that one.
      await send("And then?");
      expect(stub.requests.at(-1)!.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "Hello", "Reply 1 to Hello", "And then?"]);
      expect(await label(".message.assistant >> nth=0")).toBe("1/3");
    });
  });

  describe("no empty chats", () => {
    it("deletes the new chat when the provider fails its first message, and gives the text back", async () => {
      stub.failMatching(() => true, 400);
      await page.fill("#prompt", "Hello?");
      await page.press("#prompt", "Enter");
      await page.waitForSelector("#alert:not([hidden])");
      await expect.poll(() => page.inputValue("#prompt")).toBe("Hello?");
      await expect.poll(threadIds).toEqual([]);
      expect(await page.locator(".thread").count()).toBe(0);
      expect(await currentThreadId()).toBeNull();
      expect(await page.locator(".message").count()).toBe(0);
      // Sending it again works, in one new chat.
      stub.failMatching(undefined);
      await page.press("#prompt", "Enter");
      await page.waitForSelector(".message.assistant:not(.streaming)");
      expect(await threadIds()).toHaveLength(1);
      expect(await page.locator(".thread").count()).toBe(1);
    });

    it("deletes it when no model is configured", async () => {
      await server.close();
      server = await startServer(undefined);
      await page.goto(`${server.baseUrl}/`);
      await page.fill("#prompt", "Anyone there?");
      await page.press("#prompt", "Enter");
      await page.waitForSelector("#alert:not([hidden])");
      expect(await page.locator("#alert-text").innerText()).toContain("OPENAI_API_KEY");
      await expect.poll(() => page.inputValue("#prompt")).toBe("Anyone there?");
      await expect.poll(threadIds).toEqual([]);
      expect(await page.locator(".thread").count()).toBe(0);
    });

    it("deletes it when the first message is stopped before the first word", async () => {
      const release = stub.holdNextReply();
      try {
        await page.fill("#prompt", "Wait, no");
        await page.press("#prompt", "Enter");
        await expect.poll(() => stub.requests.length).toBe(1);
        await page.click("#stop");
        await expect.poll(() => page.locator("#status").innerText()).toBe("Stopped");
        await expect.poll(() => page.inputValue("#prompt")).toBe("Wait, no");
        await expect.poll(threadIds).toEqual([]);
        expect(await page.locator(".thread").count()).toBe(0);
        expect(await page.locator("#alert").isHidden()).toBe(true);
      } finally {
        release();
      }
    });

    it("keeps a chat that already had a reply when a later message fails", async () => {
      await send("Hello");
      stub.failMatching(() => true, 400);
      await page.fill("#prompt", "Again?");
      await page.press("#prompt", "Enter");
      await page.waitForSelector("#alert:not([hidden])");
      await expect.poll(() => page.inputValue("#prompt")).toBe("Again?");
      expect(await threadIds()).toHaveLength(1);
      expect(await texts(".message.user")).toEqual(["Hello"]);
    });
  });

  describe("a stopped reply", () => {
    // Needs the server to keep a stopped run's words (branch chat-server: an AI message marked
    // `response_metadata.stopped`).
    it("keeps the words streamed before Stop, labelled 'stopped', also after a reload", async () => {
      const answer = "a long answer that takes its time to arrive";
      stub.inject({ kind: "pause", afterChunks: 3, resume: new Promise<never>(() => undefined) });
      stub.respondWith(() => answer);
      await page.fill("#prompt", "Tell me everything");
      await page.press("#prompt", "Enter");
      await page.waitForFunction(() => (document.querySelector(".message.assistant.streaming .message-text")?.textContent ?? "") !== "");
      const streamed = await page.locator(".message.assistant.streaming .message-text").innerText();
      await page.click("#stop");
      await page.waitForSelector(".message.assistant .reply-stopped");
      const kept = (await texts(".message.assistant"))[0]!;
      expect(kept.startsWith(streamed) && answer.startsWith(kept)).toBe(true);
      expect(await page.locator("#status").innerText()).toBe("Stopped");
      // Not an empty chat: it stays, with the question and the words.
      expect(await threadIds()).toHaveLength(1);
      await page.reload();
      await page.waitForSelector(".message.assistant .reply-stopped");
      expect(await texts(".message.assistant")).toEqual([kept]);
      expect(await texts(".message.user")).toEqual(["Tell me everything"]);
    });

    it("shows a reply cut short by Stop with a 'stopped' label", async () => {
      const { body } = await server.request("/threads", {
        body: {
          metadata: { title: "Cut short" },
          supersteps: [
            {
              updates: [
                {
                  values: { messages: [{ type: "human", content: "Tell me everything" }, { type: "ai", content: "Well, first", response_metadata: { stopped: true } }] },
                  as_node: "model",
                },
              ],
            },
          ],
        },
      });
      await page.goto("about:blank");
      await page.goto(`${server.baseUrl}/#thread=${(body as { thread_id: string }).thread_id}`);
      await page.waitForSelector(".message.assistant");
      expect(await texts(".message.assistant")).toEqual(["Well, first"]);
      expect(await page.locator(".message.assistant .reply-stopped").innerText()).toBe("stopped");
    });
  });

  describe("search", () => {
    // Needs the threads search's `query` (branch chat-server).
    it("finds chats by what was said in them, and brings the whole list back when cleared", async () => {
      await send("My name is Ada");
      await page.click("#new-thread");
      await send("Tell me about volcanoes");
      const titles = () => page.locator(".thread-title").allInnerTexts();
      expect(await titles()).toEqual(["Tell me about volcanoes", "My name is Ada"]);
      // Said by the assistant in the first chat, in no title.
      await page.fill("#thread-search", "meet you");
      await expect.poll(titles).toEqual(["My name is Ada"]);
      await page.fill("#thread-search", "VOLCANO");
      await expect.poll(titles).toEqual(["Tell me about volcanoes"]);
      await page.fill("#thread-search", "nobody said this");
      await expect.poll(() => page.locator("#thread-empty").innerText()).toBe("No chat matches.");
      expect(await titles()).toEqual([]);
      await page.fill("#thread-search", "");
      await expect.poll(titles).toEqual(["Tell me about volcanoes", "My name is Ada"]);
      // Opening a match opens its chat.
      await page.fill("#thread-search", "meet you");
      await expect.poll(titles).toEqual(["My name is Ada"]);
      await page.click(".thread-open");
      await expect.poll(() => texts(".message.user")).toEqual(["My name is Ada"]);
    });
  });

  describe("a long chat", () => {
    /**
     * Seeds a chat of `turns` turns, one checkpoint each (as runs leave them), with the message
     * of turn `forkAt` edited after the fact: a branch of one turn beside the rest.
     */
    async function seedLongChat(turns: number, forkAt: number) {
      const turn = (number: number, question = `Question number ${number}`) => ({ messages: [{ type: "human", content: question }, { type: "ai", content: `Answer number ${number}` }] });
      const created = await server.request("/threads", {
        body: { metadata: { title: "A long chat" }, supersteps: Array.from({ length: turns - 1 }, (_, index) => ({ updates: [{ values: turn(index + 1), as_node: "model" }] })) },
      });
      const threadId = (created.body as { thread_id: string }).thread_id;
      const tree = (await server.request(`/threads/${threadId}/history`, { body: { limit: 1000, select: ["checkpoint_id"] } })).body as Array<{ checkpoint_id: string }>;
      const byTurn = tree.map((entry) => entry.checkpoint_id).reverse();
      const write = async (after: string, values: unknown) => expect((await server.request(`/threads/${threadId}/state`, { body: { checkpoint_id: after, values, as_node: "model" } })).status).toBe(200);
      await write(byTurn[forkAt - 2]!, turn(forkAt, `Another question ${forkAt}`));
      await write(byTurn[turns - 2]!, turn(turns));
      return threadId;
    }

    /**
     * Opens the chat in a fresh page that notes the moment its last message is drawn; returns the
     * bytes of the API's answers (not the page's own files) that had arrived by then, and a
     * function giving those that arrived by the time it is called.
     */
    async function openCountingBytes(threadId: string, lastText: string) {
      await page.goto("about:blank");
      await page.addInitScript((last: string) => {
        // Noted as soon as the messages are in the document, before the page reads anything more.
        new MutationObserver((_, observer) => {
          if (document.querySelector(".message.assistant:last-child .message-text")?.textContent !== last) return;
          (window as unknown as { shownAt: number }).shownAt = performance.now();
          observer.disconnect();
        }).observe(document, { childList: true, subtree: true, characterData: true });
      }, lastText);
      await page.goto(`${server.baseUrl}/#thread=${threadId}`);
      await page.waitForFunction(() => (window as unknown as { shownAt?: number }).shownAt !== undefined);
      const apiBytes = (until?: number) =>
        page.evaluate((limit) => {
          let bytes = 0;
          for (const entry of performance.getEntriesByType("resource") as PerformanceResourceTiming[]) {
            const path = new URL(entry.name).pathname;
            if (path === "/" || path.startsWith("/web/") || (limit !== undefined && entry.responseEnd > limit)) continue;
            bytes += entry.transferSize;
          }
          return bytes;
        }, until);
      return { openBytes: await apiBytes(await page.evaluate(() => (window as unknown as { shownAt: number }).shownAt)), apiBytes: () => apiBytes() };
    }

    it(`opens a ${LONG_CHAT_TURNS}-turn chat reading a few hundred KB, and its forked message still shows its versions`, async () => {
      const forkAt = LONG_CHAT_TURNS / 2;
      const threadId = await seedLongChat(LONG_CHAT_TURNS, forkAt);
      const { openBytes, apiBytes } = await openCountingBytes(threadId, `Answer number ${LONG_CHAT_TURNS}`);
      expect(await page.locator(".message.user").count()).toBe(LONG_CHAT_TURNS);

      // The edited message shows its two versions once the tree is read.
      const forked = `.message.user >> nth=${forkAt - 1}`;
      await expect.poll(() => label(forked)).toBe("1/2");
      const totalBytes = await apiBytes();
      console.info(`${LONG_CHAT_TURNS}-turn chat: ${openBytes} bytes of API answers until its latest messages showed, ${totalBytes} with its versions`);
      expect(openBytes).toBeLessThan(LONG_CHAT_OPEN_BYTES);
      expect(totalBytes).toBeLessThan(LONG_CHAT_TOTAL_BYTES);
      expect(await page.locator(".versions").count()).toBe(1);

      await page.click(`${forked} >> .versions-next`);
      await expect.poll(() => page.locator(".message.user").count()).toBe(forkAt);
      expect((await texts(".message.user")).at(-1)).toBe(`Another question ${forkAt}`);
      expect(await label(forked)).toBe("2/2");
      await page.click(`${forked} >> .versions-previous`);
      await expect.poll(() => page.locator(".message.user").count()).toBe(LONG_CHAT_TURNS);
      expect((await texts(".message.user")).at(-1)).toBe(`Question number ${LONG_CHAT_TURNS}`);
    });
  });
});
