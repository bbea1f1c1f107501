import { MarkdownTextSplitter, RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import type { DocumentContentType } from "../storage/documents.js";

/** How documents are cut into chunks. */
export interface ChunkingOptions {
  /** Longest chunk, in characters (`CHUNK_SIZE`). */
  chunkSize: number;
  /** Characters shared by neighbouring chunks, so a sentence cut in two is found whole (`CHUNK_OVERLAP`). */
  chunkOverlap: number;
}

export const DEFAULT_CHUNKING: ChunkingOptions = { chunkSize: 1000, chunkOverlap: 150 };

/**
 * Splits a document's text with LangChain's splitters: Markdown along its headings, lists and
 * code blocks first; plain text (and text extracted from PDFs) along paragraphs, then lines,
 * then words. Empty pieces are dropped.
 */
export async function splitText(text: string, contentType: DocumentContentType, options: ChunkingOptions = DEFAULT_CHUNKING): Promise<string[]> {
  const splitter = contentType === "text/markdown" ? new MarkdownTextSplitter(options) : new RecursiveCharacterTextSplitter(options);
  const pieces = await splitter.splitText(text);
  return pieces.map((piece) => piece.trim()).filter((piece) => piece !== "");
}
