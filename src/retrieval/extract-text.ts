import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ValidationError } from "../errors.js";
import type { DocumentContentType } from "./documents.js";

const require = createRequire(import.meta.url);

/**
 * The text of an upload: text and Markdown as sent (`content`), PDFs from their bytes
 * (`contentBase64`) with Mozilla's pdf.js, page by page. Throws `ValidationError` for a body that
 * does not match its type or a PDF that cannot be read.
 */
export async function extractText(upload: { contentType: DocumentContentType; content?: string; contentBase64?: string; source: string }): Promise<string> {
  if (upload.contentType !== "application/pdf") {
    if (upload.content === undefined) throw new ValidationError(`A ${upload.contentType} document is sent as text in \`content\``);
    return upload.content;
  }
  if (upload.contentBase64 === undefined) throw new ValidationError("A PDF is sent as base64 in `content_base64`");
  const bytes = Buffer.from(upload.contentBase64, "base64");
  if (bytes.subarray(0, 5).toString("latin1") !== "%PDF-") throw new ValidationError(`${upload.source} is not a PDF (it does not start with %PDF-)`);
  return pdfText(new Uint8Array(bytes), upload.source);
}

/** pdf.js's standard fonts, shipped in its package: read from disk, never fetched. */
const STANDARD_FONTS = `${join(dirname(require.resolve("pdfjs-dist/package.json")), "standard_fonts")}/`;

async function pdfText(data: Uint8Array, source: string): Promise<string> {
  // The legacy build runs in Node without a DOM; loaded on first use, since most uploads are text.
  const { getDocument } = await import("pdfjs-dist/legacy/build/pdf.mjs");
  let document;
  try {
    document = await getDocument({ data, isEvalSupported: false, disableFontFace: true, standardFontDataUrl: STANDARD_FONTS, verbosity: 0 }).promise;
  } catch (error) {
    throw new ValidationError(`${source} cannot be read as a PDF: ${(error as Error).message}`, { cause: error });
  }
  try {
    const pages: string[] = [];
    for (let number = 1; number <= document.numPages; number += 1) {
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      // Items carry `hasEOL` where a line ends; other items are joined as the page laid them out.
      pages.push(content.items.map((item) => ("str" in item ? item.str + (item.hasEOL ? "\n" : "") : "")).join(""));
    }
    return pages.join("\n\n");
  } finally {
    await document.destroy();
  }
}
