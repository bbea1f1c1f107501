/// <reference lib="dom" />
/**
 * LangChain's own React client against the server: `useStream` from @langchain/react, unchanged,
 * in headless Chromium. The page (tests/web/react-chat/app.tsx) is bundled with esbuild and served
 * from an origin of its own, listed in CORS_ORIGINS, as an app of one's own would be. Over SSE and
 * a WebSocket, on SQLite and PostgreSQL, it streams a reply token by token, remembers the first
 * turn in the second, shows the chat again after a reload, and starts a new thread that carries
 * nothing of the old one. Across two instances on one PostgreSQL schema, a chat begun through one
 * goes on through the other.
 */
import { build } from "esbuild";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ensureChromium, launchChromium } from "../support/browser.js";
import { type OpenAiStub, type RecordedRequest, wireText } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { PROCESS_TEST_TIMEOUTS, PROCESS_WAIT_MS as BROWSER_WAIT_MS, REPO_ROOT } from "../support/spawn.js";
import { useInstances } from "../support/use-instances.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

const unavailable = ensureChromium();
if (unavailable) console.warn(`\n\n!!! SKIPPING THE BROWSER TESTS OF @langchain/react: ${unavailable} !!!\n\n`);

const PAGE_DIR = join(REPO_ROOT, "tests/web/react-chat");
const TRANSPORTS = ["sse", "websocket"] as const;
type Transport = (typeof TRANSPORTS)[number];

const backends = await testBackends();
// One stub model for the whole file: the single-server suites and the instances on one schema call it.
const instances = await useInstances();

/** A static server for the page: index.html, and app.tsx bundled for the browser. */
interface PageServer {
  origin: string;
  close(): Promise<void>;
}

/** Bundles the page (React and @langchain/react included) and serves it on 127.0.0.1, port 0. */
async function servePage(): Promise<PageServer> {
  const bundle = await build({
    entryPoints: [join(PAGE_DIR, "app.tsx")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    // React's production build: what an app ships, and no development warnings in the console.
    define: { "process.env.NODE_ENV": '"production"' },
    write: false,
    logLevel: "silent",
  });
  const files: Record<string, { type: string; body: Uint8Array | string }> = {
    "/": { type: "text/html; charset=utf-8", body: readFileSync(join(PAGE_DIR, "index.html"), "utf8") },
    "/app.js": { type: "text/javascript; charset=utf-8", body: bundle.outputFiles[0]!.contents },
  };
  const server: Server = createServer((request, response) => {
    const file = files[new URL(request.url ?? "/", "http://page").pathname];
    if (!file) return void response.writeHead(404).end();
    response.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A request's conversation as the model got it: `role: text`, without the system prompt. */
const conversation = (request: RecordedRequest | undefined): string[] =>
  (request?.body.messages ?? []).filter((message) => message.role !== "system").map((message) => `${message.role}: ${wireText(message)}`);

describe.skipIf(unavailable !== null)("@langchain/react useStream against the server", () => {
  let browser: Browser;
  let stub: OpenAiStub;
  let pageServer: PageServer;
  let context: BrowserContext;
  let page: Page;
  /** What the page did, in order: requests (with bodies), answers, console lines, errors. Printed when a test fails. */
  let browserLog: string[];
  /** Errors thrown in the page: there must be none. */
  let pageErrors: string[];
  /** The WebSockets the page opened. */
  let webSockets: string[];
  /** How the test's page gets the thread's events (set by `open`). */
  let transport: Transport | undefined;

  beforeAll(async () => {
    stub = instances.stub;
    [browser, pageServer] = await Promise.all([launchChromium(), servePage()]);
  });
  afterAll(async () => {
    await browser?.close();
    await pageServer?.close();
  });
  /** Settings for a server the page talks to: its origin is another port than the API's, so the browser asks CORS, as for any app. */
  const serverEnv = () => ({ CORS_ORIGINS: pageServer.origin });

  beforeEach(async ({ onTestFailed }) => {
    stub.reset();
    browserLog = [];
    pageErrors = [];
    webSockets = [];
    transport = undefined;
    onTestFailed(() => console.log(`What the browser did:\n${browserLog.join("\n")}`));
    // A context per test: no storage or connection is left from the one before.
    context = await browser.newContext();
    context.setDefaultTimeout(BROWSER_WAIT_MS);
    page = await context.newPage();
    page.on("request", (request) => {
      const body = request.postData();
      browserLog.push(`→ ${request.method()} ${request.url()}${body ? ` ${body}` : ""}`);
    });
    page.on("response", (response) => browserLog.push(`← ${response.status()} ${response.request().method()} ${response.url()}`));
    page.on("requestfailed", (request) => browserLog.push(`✗ ${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
    page.on("console", (message) => browserLog.push(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => {
      browserLog.push(`page error: ${error.stack ?? error.message}`);
      pageErrors.push(error.message);
    });
    page.on("websocket", (socket) => {
      webSockets.push(socket.url());
      browserLog.push(`⇄ WebSocket ${socket.url()}`);
      socket.on("framesent", (frame) => browserLog.push(`⇄ → ${String(frame.payload).slice(0, 500)}`));
      socket.on("framereceived", (frame) => browserLog.push(`⇄ ← ${String(frame.payload).slice(0, 500)}`));
      socket.on("close", () => browserLog.push(`⇄ closed ${socket.url()}`));
    });
  });
  afterEach(async () => {
    const alert = await page.locator('[role="alert"]').allInnerTexts();
    await context.close();
    expect(pageErrors).toEqual([]);
    expect(alert).toEqual([]);
    // The events came the way the page asked for: a WebSocket to the thread's events, or none.
    const eventPosts = browserLog.filter((line) => /^→ POST \S+\/stream\/events /.test(line));
    if (transport === "websocket") {
      expect(webSockets.length).toBeGreaterThan(0);
      expect(webSockets.every((url) => /^ws:\/\/127\.0\.0\.1:\d+\/threads\/[^/]+\/stream\/events$/.test(url))).toBe(true);
      expect(eventPosts).toEqual([]);
    } else if (transport === "sse") {
      expect(webSockets).toEqual([]);
      expect(eventPosts.length).toBeGreaterThan(0);
    }
  });

  /** Opens the page on the server at `apiUrl`, its events over `how`, on the thread `threadId` if given. */
  async function open(apiUrl: string, how: Transport, threadId?: string) {
    transport = how;
    await page.goto(`${pageServer.origin}/?apiUrl=${encodeURIComponent(apiUrl)}&transport=${how}${threadId ? `#${threadId}` : ""}`);
    await page.waitForSelector("main");
  }

  /** Types a message and presses Enter. */
  async function type(text: string) {
    await page.fill('input[name="message"]', text);
    await page.press('input[name="message"]', "Enter");
  }

  /**
   * Waits until `predicate(arg)`, run in the page, returns something truthy, and returns it; fails
   * at once, with its text, if the page shows an error instead (a refused request, a failed run).
   */
  async function shown<Arg, Result>(predicate: (arg: Arg) => Result, arg?: Arg): Promise<NonNullable<Result>> {
    const handle = await page.waitForFunction(`(() => {
      const error = document.querySelector('[role="alert"]')?.textContent;
      if (error) return { error };
      const value = (${predicate.toString()})(${JSON.stringify(arg)});
      return value ? { value } : null;
    })()`);
    const outcome = (await handle.jsonValue()) as { error?: string; value?: NonNullable<Result> };
    if (outcome.error !== undefined) throw new Error(`the page shows an error: ${outcome.error}`);
    return outcome.value!;
  }

  const isIdle = () => document.querySelector("main")?.getAttribute("aria-busy") === "false";

  /** Sends a message; resolves when the page shows one more reply and the run is over. */
  async function send(text: string) {
    // The model holds its reply until the page shows its first words. A reply the stub answers at
    // once can end before useStream has opened its subscriptions; over a WebSocket the client then
    // takes the replayed end of the run for its own and may never show the reply (a client-side
    // race no real model is fast enough to meet): these tests are about the server.
    let release!: () => void;
    stub.inject({ kind: "pause", afterChunks: 3, resume: new Promise<void>((resolve) => (release = resolve)) });
    const before = await page.locator("li.ai").count();
    try {
      await type(text);
      await shown((count) => (document.querySelectorAll("li.ai")[count]?.textContent ?? "") !== "", before);
    } finally {
      release();
    }
    await shown((count) => document.querySelectorAll("li.ai").length > count && document.querySelector("main")?.getAttribute("aria-busy") === "false", before);
  }

  /**
   * Sends `text` while the model holds its reply (`reply` in full) after the first words; resolves
   * with what the page shows of the reply then, whether the page is busy then, and a function that
   * lets the rest go. The model waits for the page, not for a clock: no race, however busy the machine.
   */
  async function sendHeld(text: string, reply: string): Promise<{ seen: string; busy: string | null; release: () => void }> {
    let release!: () => void;
    // Chunk 1 is the role, then a word a chunk.
    stub.inject({ kind: "pause", afterChunks: 3, resume: new Promise<void>((resolve) => (release = resolve)) });
    const before = await page.locator("li.ai").count();
    await type(text);
    const seen = await shown(
      ([count, full]) => {
        const text = document.querySelectorAll("li.ai")[count]?.textContent ?? "";
        return text !== "" && text !== full ? text : null;
      },
      [before, reply] as const,
    );
    return { seen, busy: await page.locator("main").getAttribute("aria-busy"), release };
  }

  const texts = (type: "human" | "ai") => page.locator(`li.${type}`).allInnerTexts();
  const threadInUrl = () => page.evaluate(() => location.hash.slice(1));
  /** The text of each message the thread holds (content as a string, or as text blocks as protocol runs keep it). */
  const threadMessages = async (server: TestServer, threadId: string) => {
    const state = await server.client.threads.getState<{ messages: Array<{ content: string | Array<{ text?: string }> }> }>(threadId);
    return state.values.messages.map(({ content }) => (typeof content === "string" ? content : content.map((part) => part.text ?? "").join("")));
  };

  describe.each(backends)("on %s", (backend) => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(stub, { backend, env: serverEnv() });
    });
    afterAll(async () => {
      await server?.close();
    });

    describe.each(TRANSPORTS)("over %s", (how) => {
      beforeEach(() => open(server.baseUrl, how));

      it("streams the reply into the page token by token", async () => {
        stub.respondWith(() => "one two three four five six");
        const { seen, busy, release } = await sendHeld("Count to six", "one two three four five six");
        expect("one two three four five six".startsWith(seen)).toBe(true);
        expect(busy).toBe("true");
        release();
        await shown(isIdle);
        expect(await texts("human")).toEqual(["Count to six"]);
        expect(await texts("ai")).toEqual(["one two three four five six"]);
        // What the page shows is what the thread holds.
        const threadId = await threadInUrl();
        expect(threadId).not.toBe("");
        expect(await threadMessages(server, threadId)).toEqual(["Count to six", "one two three four five six"]);
      });

      it("remembers the first turn in the second, and shows the whole chat again after a reload", async () => {
        await send("My name is Ada");
        await send("What is my name?");
        expect(await texts("human")).toEqual(["My name is Ada", "What is my name?"]);
        expect(await texts("ai")).toEqual(["Nice to meet you, Ada!", "Your name is Ada."]);
        // The second turn reached the model with the first.
        expect(stub.requests).toHaveLength(2);
        expect(conversation(stub.requests[1])).toEqual(["user: My name is Ada", "assistant: Nice to meet you, Ada!", "user: What is my name?"]);

        const threadId = await threadInUrl();
        await page.reload();
        await shown(() => document.querySelectorAll("li.ai").length === 2);
        expect(await texts("ai")).toEqual(["Nice to meet you, Ada!", "Your name is Ada."]);
        expect(await texts("human")).toEqual(["My name is Ada", "What is my name?"]);
        expect(await threadInUrl()).toBe(threadId);
        // Reading the chat back asked nothing of the model.
        expect(stub.requests).toHaveLength(2);
      });

      it("starts a new thread: an empty chat, whose model input holds nothing of the old one", async () => {
        await send("My name is Ada");
        const first = await threadInUrl();
        await page.getByRole("button", { name: "New thread" }).click();
        await expect.poll(() => page.locator("li").count()).toBe(0);
        expect(await threadInUrl()).toBe("");

        await send("What is my name?");
        expect(await texts("human")).toEqual(["What is my name?"]);
        expect(await texts("ai")).toEqual(["I don't know your name."]);
        expect(conversation(stub.requests.at(-1))).toEqual(["user: What is my name?"]);
        const second = await threadInUrl();
        expect(second).not.toBe("");
        expect(second).not.toBe(first);
        // The first thread is as it was.
        expect(await threadMessages(server, first)).toEqual(["My name is Ada", "Nice to meet you, Ada!"]);
        expect(await threadMessages(server, second)).toEqual(["What is my name?", "I don't know your name."]);
      });
    });
  });

  describe.skipIf(!instances.reachable)("across two instances on one PostgreSQL schema", () => {
    it.each(TRANSPORTS)("over %s: a chat begun through A shows through B, and its next turn streams through B with the first", async (how) => {
      const a = await instances.start({ env: serverEnv() });
      const b = await instances.start({ env: serverEnv() });
      await open(a.baseUrl, how);
      await send("My name is Ada");
      const threadId = await threadInUrl();
      expect(threadId).not.toBe("");

      // The same thread, the page now pointed at B: A's turn shows.
      await open(b.baseUrl, how, threadId);
      const sinceB = browserLog.length;
      await shown(() => document.querySelectorAll("li.ai").length === 1);
      expect(await texts("human")).toEqual(["My name is Ada"]);
      expect(await texts("ai")).toEqual(["Nice to meet you, Ada!"]);

      // The next turn, through B, streams token by token, and the model gets the first turn with it.
      const { seen, busy, release } = await sendHeld("What is my name?", "Your name is Ada.");
      expect("Your name is Ada.".startsWith(seen)).toBe(true);
      expect(busy).toBe("true");
      release();
      await shown(isIdle);
      expect(await texts("human")).toEqual(["My name is Ada", "What is my name?"]);
      expect(await texts("ai")).toEqual(["Nice to meet you, Ada!", "Your name is Ada."]);
      expect(stub.requests).toHaveLength(2);
      expect(conversation(stub.requests[1])).toEqual(["user: My name is Ada", "assistant: Nice to meet you, Ada!", "user: What is my name?"]);
      expect(await threadInUrl()).toBe(threadId);
      // Once pointed at B, the page asked nothing of A; and A reads the thread as B left it.
      const hostA = new URL(a.baseUrl).host;
      expect(browserLog.slice(sinceB).filter((line) => /^(→|⇄ WebSocket) /.test(line) && line.includes(hostA))).toEqual([]);
      expect(await threadMessages(a, threadId)).toEqual(["My name is Ada", "Nice to meet you, Ada!", "What is my name?", "Your name is Ada."]);
    });
  });
});
