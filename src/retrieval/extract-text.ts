import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DocumentTooLargeError, ValidationError } from "../errors.js";
import type { DocumentContentType } from "../storage/documents.js";
import { type DocumentWorkers, WorkerLimitError } from "./document-workers.js";

const require = createRequire(import.meta.url);

/** What text extraction may take from one document. */
export interface ExtractionLimits {
  /** Most pages of a PDF (`DOCUMENT_MAX_PAGES`). */
  maxPages: number;
  /** Most characters of text (`DOCUMENT_MAX_CHARACTERS`). */
  maxCharacters: number;
}

/**
 * The text of an upload: text and Markdown as sent (`content`), PDFs from their bytes
 * (`contentBase64`) with Mozilla's pdf.js, page by page, in a worker process of `workers` (so the
 * event loop goes on serving, and a PDF that inflates beyond the worker's heap ends the worker,
 * not the service). Throws `ValidationError` for a body that does not match its type, a PDF that
 * cannot be read or is not read in time; `DocumentTooLargeError` for a PDF over a limit or the
 * worker's memory. Text uploads are held to `maxCharacters` by `DocumentIndex.addDocument`.
 */
export async function extractText(
  upload: { contentType: DocumentContentType; content?: string; contentBase64?: string; source: string },
  options: { workers: DocumentWorkers; limits: ExtractionLimits },
): Promise<string> {
  if (upload.contentType !== "application/pdf") {
    if (upload.content === undefined) throw new ValidationError(`A ${upload.contentType} document is sent as text in \`content\``);
    return upload.content;
  }
  if (upload.contentBase64 === undefined) throw new ValidationError("A PDF is sent as base64 in `content_base64`");
  const bytes = Buffer.from(upload.contentBase64, "base64");
  if (bytes.subarray(0, 5).toString("latin1") !== "%PDF-") throw new ValidationError(`${upload.source} is not a PDF (it does not start with %PDF-)`);
  return pdfText(bytes, upload.source, options);
}

/** pdf.js's standard fonts, shipped in its package: read from disk, never fetched. */
const STANDARD_FONTS = `${join(dirname(require.resolve("pdfjs-dist/package.json")), "standard_fonts")}/`;

async function pdfText(bytes: Buffer, source: string, options: { workers: DocumentWorkers; limits: ExtractionLimits }): Promise<string> {
  const { maxPages, maxCharacters } = options.limits;
  let outcome;
  try {
    outcome = await options.workers.run({ kind: "pdf", data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), maxPages, maxCharacters, standardFontDataUrl: STANDARD_FONTS });
  } catch (error) {
    throw workerFailure(error, `Reading the PDF ${source}`, options.workers);
  }
  switch (outcome.kind) {
    case "text":
      // pdf.js passes NUL characters through (a string's `\000`); PostgreSQL refuses them in text,
      // SQLite keeps them, and no reader wants them: dropped, so both backends store the same.
      return outcome.text.replaceAll("\u0000", "");
    case "unreadable":
      throw new ValidationError(`${source} cannot be read as a PDF: ${outcome.message}`);
    case "refused":
      throw outcome.limit === "pages"
        ? new DocumentTooLargeError(`${source} has ${outcome.pages} pages, more than the limit of ${maxPages} (DOCUMENT_MAX_PAGES)`)
        : new DocumentTooLargeError(`${source} has more than ${maxCharacters} characters of text, the limit (DOCUMENT_MAX_CHARACTERS); reading stopped there`);
    default:
      throw new Error(`Unexpected answer from the document worker: ${outcome.kind}`);
  }
}

/**
 * The client's error for a worker that died doing `what`: out of memory is 413 (the document is
 * too big to handle), out of time 422; anything else is passed on as it is.
 */
export function workerFailure(error: unknown, what: string, workers: DocumentWorkers): unknown {
  if (!(error instanceof WorkerLimitError)) return error;
  return error.limit === "memory"
    ? new DocumentTooLargeError(`${what} needed more memory than the limit of ${workers.limits.memoryMb} MB (DOCUMENT_EXTRACTION_MEMORY_MB)`, { cause: error })
    : new ValidationError(`${what} took longer than the limit of ${workers.limits.timeoutMs} ms (DOCUMENT_EXTRACTION_TIMEOUT_MS)`, { cause: error });
}
