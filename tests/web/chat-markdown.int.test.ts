/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The web chat's Markdown in a real browser (headless Chromium through playwright-core) against
 * the server on 127.0.0.1 and the stub model: replies and cited passages rendered as Markdown,
 * code highlighted and copyable, a long reply streamed without rendering its finished blocks
 * again, and a reply full of script, handlers and javascript: links that runs nothing, with or
 * without the page's Content-Security-Policy behind the sanitiser.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ensureChromium, launchChromium } from "../support/browser.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";
import { PROCESS_TEST_TIMEOUTS, PROCESS_WAIT_MS as BROWSER_WAIT_MS } from "../support/spawn.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

const unavailable = ensureChromium();
if (unavailable) console.warn(`\n\n!!! SKIPPING THE BROWSER TESTS OF THE WEB CHAT'S MARKDOWN: ${unavailable} !!!\n\n`);

/** Where the tests leave screenshots of the rendering at desktop and phone width: SCREENSHOTS_DIR to keep them. */
const SCREENSHOTS = process.env.SCREENSHOTS_DIR ?? join(tmpdir(), "screenshots");

const FENCE = "```";

/** A reply using each kind of block the page renders. */
const RICH_REPLY = [
  "## Setting up",
  "Install it with `npm install stateful-agent`, then read [the docs](https://example.com/docs).",
  "1. Create a **thread**\n2. Send a *message*\n3. ~~Wait~~ Read the reply",
  "- [x] done\n- [ ] to do",
  "| Setting | Default |\n|:--|--:|\n| `PORT` | 8123 |\n| `LOG_LEVEL` | info |",
  `${FENCE}js\nconst answer = await client.runs.wait(threadId, "agent");\nconsole.log(answer);\n${FENCE}`,
  `${FENCE}python\ndef greet(name):\n    return f"Hello, {name}"\n${FENCE}`,
  `${FENCE}some-unknown-language\nplain text stays plain\n${FENCE}`,
  "> A quote, with a line\n> that goes on.",
  "Line one\nline two of the same paragraph.",
].join("\n\n");

/**
 * Payloads that would run code if the page rendered the model's HTML; each sets `window.pwned`
 * (or calls alert), and some ask for a file of our server so that a broken one shows as a request.
 */
const XSS_REPLY = [
  `<script>window.pwned = "script"</script>`,
  `<img src="/xss-image" onerror="window.pwned = 'img onerror'">`,
  `Inline <img src=/xss-inline onerror="window.pwned='inline img'"> in a sentence, and <b onmouseover="window.pwned='b'">bold</b>.`,
  `[a javascript: link](javascript:window.pwned='markdown-link')`,
  `[a mixed-case one](JaVaScRiPt:window.pwned='case')`,
  `[an encoded one](&#106;avascript:window.pwned='entity')`,
  `<javascript:window.pwned='autolink'>`,
  `<a href="javascript:window.pwned='raw-link'">a raw link</a>`,
  `![an image](/xss-markdown-image "its title")`,
  `![x](x" onerror="window.pwned='image attribute')`,
  `<iframe src="javascript:window.pwned='iframe'"></iframe>`,
  `<iframe srcdoc="<script>parent.pwned='srcdoc'</script>"></iframe>`,
  `<svg onload="window.pwned='svg'"><circle r="5"/></svg>`,
  `<svg><script>window.pwned='svg script'</script></svg>`,
  `<details open ontoggle="window.pwned='details'">x</details>`,
  `<math><mtext><table><mglyph><style><img src=/xss-mxss onerror="window.pwned='mxss'">`,
  `${FENCE}"><img src=/xss-fence onerror="window.pwned='fence'">\nfenced\n${FENCE}`,
  `[a title](https://example.com/safe "\\" onmouseover=\\"window.pwned='title'")`,
  `<form action="javascript:window.pwned='form'"><button>Send</button></form>`,
  `<object data="javascript:window.pwned='object'"></object>`,
  `<style>body { display: none }</style>`,
  `<script>alert("dialog")</script>`,
  `[a data: link](data:text/html;base64,PHNjcmlwdD5wYXJlbnQucHduZWQ9J2RhdGEnPC9zY3JpcHQ+)`,
  `| a | b |\n|---|---|\n| <img src=/xss-table onerror="window.pwned='table'"> | one<br>two |`,
].join("\n\n");

/** A reply of some 2,000 tokens (the stub sends a word a chunk): 32 parts, each with a code block. */
const PARTS = 32;
const LONG_REPLY = Array.from({ length: PARTS }, (_, part) =>
  [
    `## Part ${part}`,
    `This paragraph describes part ${part} in a few words: it has \`inline code\`, **bold text** and [a link](https://example.com/part/${part}), so that each kind of inline element is in it.`,
    `${FENCE}js\n// part ${part}\nfunction part${part}(value) {\n  const doubled = value * 2;\n  return doubled + ${part};\n}\n${FENCE}`,
    `- first point of part ${part}\n- second point of part ${part}`,
    `End of part ${part}.`,
  ].join("\n\n"),
).join("\n\n");
/** The words the stub streams, one chunk each (as `piecesOf` in the stub splits them). */
const LONG_PIECES = LONG_REPLY.match(/\s*\S+/g)!;

/** Texts whose blocks change as they stream in: a list joined by a later item, a table's second line, a fence. */
const TRICKY = [
  "1. one\n\n2. two\n\n10. ten\n\nafter",
  "para one\n\n- a\n- b\n\n- c\n\nnext",
  "Title\n===\n\nSub\n---\n\n***\n\nend",
  "a | b\n--|--\n1 | 2\n\nx",
  "> quoted\nlazy line\n\n> another quote",
  "    indented\n\n    code\n\npara\n\n    more code",
  `${FENCE}ts\nlet x: number = 1;\n\n// a blank line inside\n${FENCE}\nafter the fence`,
  "- a\n\n  continued\n\n- b\n\n      code in item\n\nout",
  "[ref]: https://example.com/r\n\nuses [ref] after its definition",
  RICH_REPLY,
];

describe.skipIf(unavailable !== null)("web chat Markdown", () => {
  let browser: Browser;
  let stub: OpenAiStub;
  let server: TestServer;
  let context: BrowserContext;
  /** One tab for the whole file, opened on each test's server in turn. */
  let page: Page;
  const DESKTOP = { width: 1100, height: 760 };
  const PHONE = { width: 390, height: 780 };
  /** Requests the page made to anything but our server: there must be none (no CDN, no image). */
  let foreign: string[];
  /** Paths of every request the page made to our server. */
  let paths: string[];
  /** Errors thrown in the page. */
  let pageErrors: string[];
  /** Dialogs the page opened (alert, confirm): a payload's alert would be one. */
  let dialogs: string[];

  /** Records what a tab of `context` does: requests, errors, dialogs. */
  function watch(tab: Page): void {
    tab.on("request", (request) => {
      if (!request.url().startsWith(server.baseUrl) && !/^(data|about):/.test(request.url())) foreign.push(request.url());
      else if (request.url().startsWith(server.baseUrl)) paths.push(new URL(request.url()).pathname);
    });
    tab.on("pageerror", (error) => pageErrors.push(error.message));
    tab.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  }

  beforeAll(async () => {
    browser = await launchChromium();
    stub = await startOpenAiStub();
    context = await browser.newContext({ viewport: DESKTOP });
    context.setDefaultTimeout(BROWSER_WAIT_MS);
    // The copy buttons are checked through the real clipboard.
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    page = await context.newPage();
    watch(page);
  });
  afterAll(async () => {
    await browser?.close();
    await stub?.close();
  });

  beforeEach(async () => {
    stub.reset();
    foreign = [];
    paths = [];
    pageErrors = [];
    dialogs = [];
  });

  /** Each test of the block gets a fresh server, and the chat open on it; after it, the page may have reached no other origin nor thrown. */
  function usePage(options: Parameters<typeof startServer>[1] = {}) {
    beforeEach(async () => {
      server = await startServer(stub, options);
      await page.setViewportSize(DESKTOP);
      await page.goto(`${server.baseUrl}/`);
    });
    afterEach(async () => {
      if (page.url().startsWith(server.baseUrl)) await page.evaluate(() => localStorage.clear());
      await page.goto("about:blank");
      await server.close();
      expect(foreign).toEqual([]);
      expect(pageErrors).toEqual([]);
      expect(dialogs).toEqual([]);
    });
  }

  /** Types a message and presses Enter; resolves when the finished reply is on screen. */
  async function send(tab: Page, text: string) {
    const before = await tab.locator(".message.assistant").count();
    await tab.fill("#prompt", text);
    await tab.press("#prompt", "Enter");
    await tab.waitForFunction((count) => document.querySelectorAll(".message.assistant:not(.streaming)").length > count && document.querySelector("#stop")?.hasAttribute("hidden"), before);
  }

  const reply = (tab: Page = page) => tab.locator(".message.assistant .message-text").last();

  describe("on a chat", () => {
    usePage();

    it("renders a reply's Markdown (headings, lists, tables, links, code) and keeps the user's message as typed", async () => {
      stub.respondWith(() => RICH_REPLY);
      await send(page, "Show me **Markdown** <b>please</b>");

      // The user's message is text, not Markdown nor HTML.
      const mine = page.locator(".message.user .message-text");
      expect(await mine.innerText()).toBe("Show me **Markdown** <b>please</b>");
      expect(await mine.locator("strong, b").count()).toBe(0);

      await checkRichReply();
      // Code is coloured once its grammar (a module of its own, loaded when needed) is there.
      await reply().locator(".code-block code.hljs .hljs-keyword").first().waitFor();
      expect(await reply().locator(".code-block").nth(1).locator(".hljs-string").count()).toBeGreaterThan(0);
      // An unknown language is named, not coloured.
      expect(await reply().locator(".code-block").nth(2).locator("code").evaluate((code) => [code.className, code.innerHTML])).toEqual(["language-some-unknown-language", "plain text stays plain"]);
      // The libraries came from our server: marked, DOMPurify, highlight.js and two of its grammars.
      expect(paths).toEqual(expect.arrayContaining(["/web/vendor/marked.js", "/web/vendor/purify.js", "/web/vendor/highlight/core.js", "/web/vendor/highlight/languages/javascript.js", "/web/vendor/highlight/languages/python.js"]));
      expect(paths).not.toContain("/web/vendor/highlight/languages/some-unknown-language.js");

      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.setViewportSize({ width: 1280, height: 1000 });
      await page.screenshot({ path: join(SCREENSHOTS, "markdown-desktop.png") });

      // After a reload, read from the thread: the same rendering.
      await page.reload();
      await reply().locator(".code-block code.hljs .hljs-keyword").first().waitFor();
      await checkRichReply();

      // At phone width, wide code and tables scroll inside the reply, not the page.
      await page.setViewportSize(PHONE);
      await page.reload();
      await reply().locator(".code-block code.hljs .hljs-keyword").first().waitFor();
      // The chat list is a drawer, off screen.
      const sidebarEnd = async () => {
        const box = await page.locator("#sidebar").boundingBox();
        return (box?.x ?? 0) + (box?.width ?? 0);
      };
      await expect.poll(sidebarEnd).toBeLessThanOrEqual(0);
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
      const messageBox = (await page.locator(".message.assistant").boundingBox())!;
      expect(messageBox.x + messageBox.width).toBeLessThanOrEqual(PHONE.width);
      await page.screenshot({ path: join(SCREENSHOTS, "markdown-phone.png") });
    });

    async function checkRichReply() {
      const shown = reply();
      expect(await shown.locator("h2").innerText()).toBe("Setting up");
      expect(await shown.locator("ol > li").allInnerTexts()).toEqual(["Create a thread", "Send a message", "Wait Read the reply"]);
      expect(await shown.locator("ol strong").innerText()).toBe("thread");
      expect(await shown.locator("ol em").innerText()).toBe("message");
      expect(await shown.locator("ol del").innerText()).toBe("Wait");
      // Task lists show their state, and cannot be ticked.
      expect(await shown.locator("input[type=checkbox]").evaluateAll((boxes) => boxes.map((box) => [(box as HTMLInputElement).checked, (box as HTMLInputElement).disabled]))).toEqual([
        [true, true],
        [false, true],
      ]);
      expect(await shown.locator("table th").allInnerTexts()).toEqual(["Setting", "Default"]);
      expect(await shown.locator("table td").allInnerTexts()).toEqual(["PORT", "8123", "LOG_LEVEL", "info"]);
      expect(await shown.locator("table td").nth(1).getAttribute("align")).toBe("right");
      expect(await shown.locator("p code").first().innerText()).toBe("npm install stateful-agent");
      // Links open in a new tab, telling the other site nothing of this page.
      const link = shown.locator("a", { hasText: "the docs" });
      expect(await link.getAttribute("href")).toBe("https://example.com/docs");
      expect(await link.getAttribute("target")).toBe("_blank");
      expect(await link.getAttribute("rel")).toBe("noopener noreferrer");
      expect(await shown.locator(".code-language").allInnerTexts()).toEqual(["js", "python", "some-unknown-language"]);
      expect(await shown.locator(".code-block pre code").first().innerText()).toBe('const answer = await client.runs.wait(threadId, "agent");\nconsole.log(answer);');
      expect(await shown.locator("blockquote").innerText()).toBe("A quote, with a line\nthat goes on.");
      // A line break in the text is one on the page too.
      expect(await shown.locator("p", { hasText: "Line one" }).innerHTML()).toBe("Line one<br>line two of the same paragraph.");
    }

    it("copies a code block, or a whole reply as the model wrote it, to the clipboard", async () => {
      stub.respondWith(() => RICH_REPLY);
      await send(page, "Show me code");
      const codeCopy = reply().locator(".copy-code").first();
      expect(await codeCopy.getAttribute("aria-label")).toBe("Copy code");
      await codeCopy.click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe('const answer = await client.runs.wait(threadId, "agent");\nconsole.log(answer);');
      expect(await codeCopy.getAttribute("aria-label")).toBe("Copied");

      const replyCopy = page.locator('.message.assistant .message-actions button[aria-label="Copy reply"]');
      await replyCopy.click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(RICH_REPLY);
      // The buttons are icons: a reply's text is only what the model wrote.
      expect(await page.locator(".message.assistant .message-actions").innerText()).toBe("");
    });

    it("streams a long reply with many code blocks: finished blocks are rendered once, and the page stays usable", async () => {
      expect(LONG_PIECES.length).toBeGreaterThanOrEqual(2000);
      // The reply is held twice: halfway, after part 15's last words, and before its very last word.
      const half = LONG_PIECES.findIndex((piece) => piece.trim() === "15.");
      let halfway!: () => void;
      let nearlyDone!: () => void;
      stub.inject({
        kind: "pauses",
        stops: [
          // Frame 0 is the role; piece n is frame n + 1, so `afterChunks: n + 2` has sent pieces 0…n.
          { afterChunks: half + 2, resume: new Promise<void>((resolve) => (halfway = resolve)) },
          { afterChunks: LONG_PIECES.length, resume: new Promise<void>((resolve) => (nearlyDone = resolve)) },
        ],
      });
      stub.respondWith(() => LONG_REPLY);
      await page.fill("#prompt", "Write a long answer");
      await page.press("#prompt", "Enter");

      // Halfway: the blocks before the last few are finished. Remember their nodes (and their
      // coloured spans), and watch them for any change until the reply's last word.
      await page.waitForFunction(() => document.querySelector(".message.assistant.streaming .message-text")?.textContent?.includes("End of part 15."));
      await page.locator(".message.assistant.streaming .code-block .hljs-keyword").first().waitFor();
      const finishedCount = await page.evaluate(() => {
        const text = document.querySelector(".message.assistant.streaming .message-text")!;
        const finished = [...text.children].slice(0, -3);
        const spans = finished.map((block) => block.querySelector(".hljs-keyword"));
        const changes: string[] = [];
        new MutationObserver((records) => {
          for (const record of records) {
            // A copy button saying "Copied" is the test's own click.
            if (record.target instanceof Element && record.target.closest(".copy")) continue;
            const touched = [record.target, ...record.removedNodes];
            if (finished.some((block) => touched.some((node) => block === node || block.contains(node)))) changes.push(record.type);
          }
        }).observe(text, { subtree: true, childList: true, characterData: true, attributes: true });
        Object.assign(window, { finished, spans, changes });
        return finished.length;
      });
      // Five blocks a part: part 15's paragraph, list and last words may still be open.
      expect(finishedCount).toBeGreaterThanOrEqual(15 * 5);

      // While the second half streams in, the page takes typing and a click on an earlier code
      // block's copy button.
      halfway();
      await page.fill("#prompt", "typing while it streams");
      expect(await page.inputValue("#prompt")).toBe("typing while it streams");
      await page.locator(".message.assistant.streaming .copy-code").first().click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe("// part 0\nfunction part0(value) {\n  const doubled = value * 2;\n  return doubled + 0;\n}");
      expect(await page.locator(".message.assistant.streaming").count()).toBe(1);

      // All but the last word: every finished block is the same node as halfway, untouched.
      await page.waitForFunction(() => {
        const text = document.querySelector(".message.assistant.streaming .message-text");
        return text?.textContent?.includes("second point of part 31") && text.lastElementChild?.textContent === "End of part";
      });
      const kept = await page.evaluate(() => {
        const { finished, spans, changes } = window as unknown as { finished: Element[]; spans: Array<Element | null>; changes: string[] };
        const text = document.querySelector(".message.assistant.streaming .message-text")!;
        return {
          connected: finished.every((block) => block.parentElement === text),
          sameSpans: finished.every((block, index) => block.querySelector(".hljs-keyword") === spans[index]),
          changes,
          blocks: text.children.length,
          codeBlocks: text.querySelectorAll(".code-block").length,
        };
      });
      expect(kept).toEqual({ connected: true, sameSpans: true, changes: [], blocks: PARTS * 5, codeBlocks: PARTS });


      nearlyDone();
      await page.waitForSelector(".message.assistant:not(.streaming)");
      await page.waitForSelector("#stop", { state: "hidden" });
      expect(await reply().locator(".code-block").count()).toBe(PARTS);
      expect(await reply().locator("h2").last().innerText()).toBe(`Part ${PARTS - 1}`);
      expect(await reply().locator("p").last().innerText()).toBe(`End of part ${PARTS - 1}.`);
    });

    it("renders a text streamed word by word exactly as the whole text, parsing only its last blocks each time", async () => {
      await page.evaluate("import('/web/markdown.js').then((module) => { window.markdownModule = module; })");
      // Grammars load on first use: render everything once, and wait for them.
      await page.evaluate((texts) => {
        const { renderMarkdown } = (window as unknown as { markdownModule: { renderMarkdown: (text: string) => DocumentFragment } }).markdownModule;
        const box = document.createElement("div");
        box.className = "markdown warm-up";
        for (const text of texts) box.append(renderMarkdown(text));
        document.body.append(box);
      }, TRICKY);
      await page.locator(".warm-up .hljs-keyword").first().waitFor();
      await page.waitForFunction(() => document.querySelectorAll(".warm-up pre > code[class*='language-']:not(.hljs)").length === 1);

      const results = await page.evaluate(
        ({ texts, long }) => {
          type Module = {
            renderMarkdown: (text: string) => DocumentFragment;
            streamMarkdown: (container: HTMLElement) => { update(text: string): void; flush(): void };
            streamStats: { lexedChars: number; largestLex: number };
          };
          const { renderMarkdown, streamMarkdown, streamStats } = (window as unknown as { markdownModule: Module }).markdownModule;
          return [...texts, long].map((text) => {
            const streamed = document.createElement("div");
            const view = streamMarkdown(streamed);
            const words = text.match(/\s*\S+/g) ?? [];
            streamStats.largestLex = 0;
            const lexedBefore = streamStats.lexedChars;
            let sofar = "";
            let firstBlock: Element | null = null;
            let firstKept = true;
            for (const word of words) {
              sofar += word;
              view.update(sofar);
              view.flush();
              if (firstBlock === null && streamed.children.length > 3) firstBlock = streamed.children[0]!;
              if (firstBlock !== null && streamed.children[0] !== firstBlock) firstKept = false;
            }
            const whole = document.createElement("div");
            whole.append(renderMarkdown(text));
            return { same: streamed.innerHTML === whole.innerHTML, streamed: streamed.innerHTML, whole: whole.innerHTML, firstKept, largestLex: streamStats.largestLex, lexed: streamStats.lexedChars - lexedBefore, length: text.length, words: words.length };
          });
        },
        { texts: TRICKY, long: LONG_REPLY },
      );
      for (const result of results) {
        expect(result.streamed).toBe(result.whole);
        expect(result.firstKept).toBe(true);
      }
      // The long reply, word by word (no frames to merge updates): each render parsed at most a
      // few blocks, and all renders together parsed its text some tens of times, not once per word.
      const long = results.at(-1)!;
      expect(long.largestLex).toBeLessThan(600);
      expect(long.lexed).toBeLessThan(long.length * 40);
    });

    it("switches the streamed view to another message's text when the model's next message begins", async () => {
      await page.evaluate("import('/web/markdown.js').then((module) => { window.markdownModule = module; })");
      const html = await page.evaluate(() => {
        const { streamMarkdown } = (window as unknown as { markdownModule: { streamMarkdown: (container: HTMLElement) => { update(text: string): void; flush(): void } } }).markdownModule;
        const box = document.createElement("div");
        const view = streamMarkdown(box);
        view.update("# First message\n\nits text");
        view.flush();
        view.update("Second");
        view.flush();
        return box.innerHTML;
      });
      expect(html).toBe("<p>Second</p>");
    });
  });

  describe("with documents", () => {
    usePage({ env: { EMBEDDING_MODEL: "stub-embedding", CHUNK_SIZE: "400", CHUNK_OVERLAP: "10" } });

    it("renders the cited passages under Sources as Markdown, and runs nothing in them", async () => {
      stub.respondWith((request) => {
        const last = request.messages.at(-1)!;
        if (last.role === "tool") return "Returns are free within **30 days** [1].";
        const offered = ((request.tools as Array<{ function: { name: string } }> | undefined) ?? []).length > 0;
        return offered ? { tool_calls: [{ name: "search_documents", arguments: { query: wireText(last) } }] } : `You said: ${wireText(last)}`;
      });
      await page.click("#manage-documents");
      await page.fill("#collection-name", "Handbook");
      await page.press("#collection-name", "Enter");
      await page.waitForSelector("#collection-detail:not([hidden])");
      const policy = [
        "# Returns",
        "Customers may return any item within **30 days** of delivery:",
        "- unused, in its box\n- with the receipt",
        `Call \`refund()\` <img src=/xss-citation onerror="window.pwned='citation'"> [here](javascript:window.pwned='citation-link').`,
      ].join("\n\n");
      await page.setInputFiles("#upload", [{ name: "refund-policy.md", mimeType: "text/markdown", buffer: Buffer.from(policy) }]);
      await expect.poll(() => page.locator(".document-source").allInnerTexts()).toEqual(["refund-policy.md"]);
      await page.click("#documents-close");
      await page.selectOption("#collection", { label: "Handbook" });
      await send(page, "How long do I have to return an item?");

      expect(await reply().innerText()).toBe("Returns are free within 30 days [1].");
      await page.locator(".citations summary").click();
      const passage = page.locator(".citations blockquote");
      expect(await passage.locator("li").allInnerTexts()).toEqual(["unused, in its box", "with the receipt"]);
      expect(await passage.locator("strong").first().innerText()).toBe("30 days");
      expect(await passage.locator("code").innerText()).toBe("refund()");
      expect(await passage.locator("img, script").count()).toBe(0);
      expect(await passage.locator("a", { hasText: "here" }).getAttribute("href")).toBeNull();
      await passage.locator("a", { hasText: "here" }).click();
      expect(await page.evaluate(() => (window as unknown as { pwned?: string }).pwned)).toBeUndefined();
      expect(paths).not.toContain("/xss-citation");
    });
  });

  describe("with a reply that tries to run code", () => {
    usePage();

    /**
     * Sends the payloads to the chat in `tab` and checks what it shows: no element nor attribute
     * that runs or loads anything, javascript: links without their address, the raw HTML as text.
     */
    async function checkHarmless(tab: Page) {
      stub.respondWith(() => XSS_REPLY);
      await send(tab, "Try to break the page");
      await checkShownHarmless(tab);
      // After a reload (the reply read from the thread, rendered whole): just as harmless.
      await tab.reload();
      await tab.waitForSelector(".message.assistant .message-text p");
      await checkShownHarmless(tab);
    }

    async function checkShownHarmless(tab: Page) {
      const shown = reply(tab);
      const found = await shown.evaluate((root) => ({
        // The copy buttons' icons are the page's own SVG.
        dangerous: [...root.querySelectorAll("script, iframe, object, embed, svg, math, img, style, form, details, link, meta, base")].filter((element) => !element.closest(".copy")).map((element) => element.outerHTML),
        handlers: [...root.querySelectorAll("*")].flatMap((element) => element.getAttributeNames().filter((name) => name.startsWith("on") || name === "srcdoc" || name === "style")),
        schemes: [...root.querySelectorAll("a[href]")].map((anchor) => new URL(anchor.getAttribute("href")!, location.href).protocol),
        buttons: root.querySelectorAll("button:not(.copy)").length,
      }));
      expect(found).toEqual({ dangerous: [], handlers: [], schemes: expect.any(Array), buttons: 0 });
      expect(new Set(found.schemes)).toEqual(new Set(["https:", "http:"]));
      // The raw HTML is there to read, as text.
      const text = await shown.innerText();
      expect(text).toContain(`<script>window.pwned = "script"</script>`);
      expect(text).toContain(`<iframe srcdoc=`);
      expect(text).toContain(`<b onmouseover=`);
      expect(text).toContain("one\ntwo");
      // The javascript: and data: links keep their words and lose their address; clicking them does nothing.
      for (const words of ["a javascript: link", "a mixed-case one", "an encoded one", "a data: link"]) {
        const anchor = shown.locator("a", { hasText: words });
        expect(await anchor.getAttribute("href"), words).toBeNull();
        await anchor.click();
      }
      await shown.locator("a", { hasText: "a title" }).hover();
      // The image is a link to it, not fetched; nothing else opened.
      expect(await shown.locator("a.image-link", { hasText: "an image" }).getAttribute("href")).toBe("/xss-markdown-image");
      expect(tab.context().pages()).toHaveLength(1);
      expect(await tab.evaluate(() => getComputedStyle(document.body).display)).not.toBe("none");
      expect(await tab.evaluate(() => (window as unknown as { pwned?: string }).pwned)).toBeUndefined();
      expect(paths.filter((path) => path.startsWith("/xss"))).toEqual([]);
      expect(dialogs).toEqual([]);
    }

    it("runs nothing of it under the page's Content-Security-Policy", async () => {
      await checkHarmless(page);
    });

    it("runs nothing of it with the Content-Security-Policy switched off: the sanitiser alone stops it", async () => {
      const unguarded = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
      unguarded.setDefaultTimeout(BROWSER_WAIT_MS);
      try {
        const tab = await unguarded.newPage();
        watch(tab);
        await tab.goto(`${server.baseUrl}/`);
        // The premise: in this tab, an inline handler that reached the page would run.
        await tab.evaluate(() => {
          const probe = document.createElement("img");
          probe.setAttribute("onerror", "window.canary = 'ran'");
          probe.src = "/canary.png";
          document.body.append(probe);
        });
        await tab.waitForFunction(() => (window as unknown as { canary?: string }).canary === "ran");
        await tab.evaluate(() => document.querySelector("img[src='/canary.png']")?.remove());
        await checkHarmless(tab);
      } finally {
        await unguarded.close();
      }
    });
  });
});
