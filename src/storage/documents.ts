/**
 * Collections of the user's documents, split into chunks that retrieval searches. These are the
 * records the stores keep; `src/server/wire.ts` turns them into the API's JSON.
 */

/** A named set of documents a thread can be bound to (`configurable.collection_id`). */
export interface Collection {
  collectionId: string;
  name: string;
  metadata: Record<string, unknown>;
  /** Who created it, when API keys are on; others see a 404. */
  owner: string | undefined;
  createdAt: Date;
  documentCount: number;
  chunkCount: number;
}

/** One uploaded document; its text lives in its chunks. */
export interface StoredDocument {
  documentId: string;
  collectionId: string;
  /** Where it came from, as the uploader named it (a file name, a URL): what citations show. */
  source: string;
  contentType: DocumentContentType;
  metadata: Record<string, unknown>;
  createdAt: Date;
  /** Characters of text extracted from it. */
  characters: number;
  chunkCount: number;
}

/** The formats documents are accepted in. */
export const DOCUMENT_CONTENT_TYPES = ["text/plain", "text/markdown", "application/pdf"] as const;
export type DocumentContentType = (typeof DOCUMENT_CONTENT_TYPES)[number];

/** A piece of a document: what is indexed, searched, and cited. */
export interface Chunk {
  chunkId: string;
  documentId: string;
  /** 0-based index of the chunk within its document. */
  position: number;
  text: string;
}

/** A chunk found by a search, with where it came from and how it ranked. */
export interface SearchHit {
  chunkId: string;
  documentId: string;
  source: string;
  position: number;
  text: string;
  /** Reciprocal rank fusion score: higher is better. */
  score: number;
  /** 1-based rank in the full-text and the vector results, when it was in them. */
  ranks: { text?: number; vector?: number };
}

/** A ranked list of chunk ids from one search method, best first. */
export type RankedIds = string[];
