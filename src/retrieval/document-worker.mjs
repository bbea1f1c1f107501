// @ts-check
/**
 * The work on documents that must not hold up the server's event loop, done in a process of its
 * own: reading a PDF's text with pdf.js, and splitting a long text with LangChain's splitters.
 * `document-workers.ts` starts one per task with a heap limit and a deadline, so a PDF that
 * inflates to gigabytes ends this process, not the service. Plain JavaScript, so that it runs as
 * it is under node, tsx and vitest alike (a TypeScript worker would need a loader in each).
 *
 * In: one IPC message, a task (`DocumentTask` in document-workers.ts). Out: one message, its
 * outcome (`TaskOutcome`); the parent then ends this process.
 */

/**
 * A PDF's text, page by page (pages joined by a blank line, lines where pdf.js marks their end),
 * refused as soon as it has more than `maxPages` pages or `maxCharacters` characters: the text is
 * streamed, so a page holding too much is abandoned at the limit instead of read whole.
 * @param {{ data: Uint8Array; maxPages: number; maxCharacters: number; standardFontDataUrl: string }} task
 */
async function readPdf(task) {
  // The legacy build runs in Node without a DOM.
  const { getDocument } = await import("pdfjs-dist/legacy/build/pdf.mjs");
  let document;
  try {
    document = await getDocument({ data: task.data, isEvalSupported: false, disableFontFace: true, standardFontDataUrl: task.standardFontDataUrl, verbosity: 0 }).promise;
  } catch (error) {
    return { kind: "unreadable", message: /** @type {Error} */ (error).message };
  }
  try {
    // The page tree says how many pages there are before any is read.
    if (document.numPages > task.maxPages) return { kind: "refused", limit: "pages", pages: document.numPages };
    /** @type {string[]} */
    const parts = [];
    let characters = 0;
    for (let number = 1; number <= document.numPages; number += 1) {
      if (number > 1) {
        parts.push("\n\n");
        characters += 2;
      }
      const page = await document.getPage(number);
      const reader = page.streamTextContent().getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const item of value.items) {
          // Marked-content items carry no text.
          if (!("str" in item)) continue;
          const text = item.hasEOL ? `${item.str}\n` : item.str;
          parts.push(text);
          characters += text.length;
        }
        if (characters > task.maxCharacters) {
          // Not awaited: the parent ends this process once it has the answer.
          void reader.cancel();
          return { kind: "refused", limit: "characters" };
        }
      }
      page.cleanup();
    }
    return { kind: "text", text: parts.join("") };
  } catch (error) {
    return { kind: "unreadable", message: /** @type {Error} */ (error).message };
  }
  // No `document.destroy()`: the parent ends this process once it has the answer.
}

/**
 * The text's chunks, exactly as `splitText` in chunking.ts cuts them (a test holds the two to the
 * same output): Markdown along its structure, other text along paragraphs, lines, then words.
 * @param {{ text: string; contentType: string; chunkSize: number; chunkOverlap: number }} task
 */
async function split(task) {
  const { MarkdownTextSplitter, RecursiveCharacterTextSplitter } = await import("@langchain/textsplitters");
  const options = { chunkSize: task.chunkSize, chunkOverlap: task.chunkOverlap };
  const splitter = task.contentType === "text/markdown" ? new MarkdownTextSplitter(options) : new RecursiveCharacterTextSplitter(options);
  const pieces = (await splitter.splitText(task.text)).map((piece) => piece.trim()).filter((piece) => piece !== "");
  return { kind: "pieces", pieces };
}

// A parent that went away (killed, crashed) takes its worker with it.
process.once("disconnect", () => process.exit(1));
process.once("message", async (/** @type {any} */ task) => {
  const outcome = task.kind === "pdf" ? await readPdf(task) : await split(task);
  process.send?.(outcome);
});
