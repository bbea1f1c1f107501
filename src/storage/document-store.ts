import type { Chunk, Collection, DocumentContentType, RankedIds, StoredDocument } from "./documents.js";

/** A document to store: its record and its chunks, with their embeddings when there are any. */
export interface NewDocument {
  documentId: string;
  collectionId: string;
  source: string;
  contentType: DocumentContentType;
  metadata: Record<string, unknown>;
  characters: number;
  chunks: Chunk[];
  /** One per chunk, in order; absent when no embeddings model is configured. */
  embeddings?: Float32Array[];
}

/**
 * Where collections, documents and chunks live: SQLite beside the checkpoints, or PostgreSQL.
 * Lookups return null (the caller decides whether that is a 404). `owner` scopes what is seen:
 * undefined sees everything (authentication off).
 */
export interface DocumentStore {
  /** Creates the tables; idempotent. */
  setup(): Promise<void>;
  createCollection(collection: { collectionId: string; name: string; metadata: Record<string, unknown>; owner: string | undefined }): Promise<Collection>;
  getCollection(collectionId: string, owner?: string): Promise<Collection | null>;
  listCollections(options: { owner?: string; limit: number; offset: number }): Promise<Collection[]>;
  /** Deletes the collection with its documents and chunks; false when it was not there. */
  deleteCollection(collectionId: string): Promise<boolean>;
  addDocument(document: NewDocument): Promise<StoredDocument>;
  getDocument(collectionId: string, documentId: string): Promise<StoredDocument | null>;
  listDocuments(collectionId: string, options: { limit: number; offset: number }): Promise<StoredDocument[]>;
  /** Deletes a document and its chunks, which leave every index at once; false when it was not there. */
  deleteDocument(collectionId: string, documentId: string): Promise<boolean>;
  /** Chunks by id, with their document's source. */
  getChunks(chunkIds: readonly string[]): Promise<Array<Chunk & { source: string }>>;
  /** Full-text search: chunk ids, best first. */
  searchText(collectionId: string, query: string, limit: number): Promise<RankedIds>;
  /** Nearest chunks by cosine distance to `embedding`, best first (exact). */
  searchVector(collectionId: string, embedding: Float32Array, limit: number): Promise<RankedIds>;
  /** How many chunks have embeddings of another dimension than `dimensions` (a changed model). */
  countOtherDimensions(collectionId: string, dimensions: number): Promise<number>;
}

/** Words of a query for full-text search: letters and digits only, so no query is a syntax error. */
export function queryTerms(query: string): string[] {
  return [...new Set(query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])].slice(0, 64);
}
