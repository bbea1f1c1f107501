import type BetterSqlite3 from "better-sqlite3";
import type { MigrationSet } from "../migrations.js";
import { SqliteDatabase, loadVectorSearch } from "./database.js";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { AppError, NotFoundError } from "../../errors.js";
import type { DocumentStore, NewDocument } from "../document-store.js";
import { queryTerms } from "../document-store.js";
import type { Chunk, Collection, DocumentContentType, RankedIds, StoredDocument } from "../documents.js";
import { MonotonicClock } from "../../monotonic-clock.js";

/**
 * Tables of the retrieval store, in the service's SQLite file. `rag_chunks_fts` is an FTS5 index
 * over the chunks' text (Porter stemming), kept in step by triggers, so a deleted chunk leaves
 * full-text search in the same transaction. Embeddings are float32 BLOBs compared by sqlite-vec's
 * `vec_distance_cosine`: an exact scan in C, any dimension.
 *
 * A chunk counts only while its document's row exists: every read joins the two. That lets a large
 * document be written (and deleted) in short transactions with the event loop running between
 * them, and still appear (and vanish) at once: its row is written last and deleted first. Chunks
 * left without a row (by a crash in between) are removed at setup.
 */
/**
 * The retrieval tables. Releases before the version table created them with `IF NOT EXISTS` on
 * every start; version 1 is that same script, so it also adopts their files unchanged.
 */
export const DOCUMENT_MIGRATIONS: MigrationSet = {
  table: "rag_migrations",
  steps: [
    `
  CREATE TABLE IF NOT EXISTS rag_collections (
    collection_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    owner TEXT,
    created_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS rag_documents (
    document_id TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL,
    source TEXT NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    characters INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rag_documents_collection ON rag_documents (collection_id, created_at);
  CREATE TABLE IF NOT EXISTS rag_chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    embedding BLOB,
    dimensions INTEGER
  );
  CREATE INDEX IF NOT EXISTS rag_chunks_document ON rag_chunks (document_id, position);
  CREATE INDEX IF NOT EXISTS rag_chunks_collection ON rag_chunks (collection_id, dimensions);
  CREATE VIRTUAL TABLE IF NOT EXISTS rag_chunks_fts USING fts5 (text, content = 'rag_chunks', content_rowid = 'id', tokenize = 'porter unicode61');
  CREATE TRIGGER IF NOT EXISTS rag_chunks_indexed AFTER INSERT ON rag_chunks BEGIN
    INSERT INTO rag_chunks_fts (rowid, text) VALUES (new.id, new.text);
  END;
  CREATE TRIGGER IF NOT EXISTS rag_chunks_unindexed AFTER DELETE ON rag_chunks BEGIN
    INSERT INTO rag_chunks_fts (rag_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
  END;
`,
  ],
};

interface CollectionRow {
  collection_id: string;
  name: string;
  metadata: string;
  owner: string | null;
  created_at: string;
  document_count: number;
  chunk_count: number;
}

interface DocumentRow {
  document_id: string;
  collection_id: string;
  source: string;
  content_type: string;
  metadata: string;
  characters: number;
  chunk_count: number;
  created_at: string;
}

const toCollection = (row: CollectionRow): Collection => ({
  collectionId: row.collection_id,
  name: row.name,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  owner: row.owner ?? undefined,
  createdAt: new Date(row.created_at),
  documentCount: row.document_count,
  chunkCount: row.chunk_count,
});

export const toStoredDocument = (row: DocumentRow): StoredDocument => ({
  documentId: row.document_id,
  collectionId: row.collection_id,
  source: row.source,
  contentType: row.content_type as DocumentContentType,
  metadata: typeof row.metadata === "string" ? (JSON.parse(row.metadata) as Record<string, unknown>) : (row.metadata as Record<string, unknown>),
  characters: Number(row.characters),
  chunkCount: Number(row.chunk_count),
  createdAt: new Date(row.created_at),
});

const COLLECTION_COLUMNS = `c.collection_id, c.name, c.metadata, c.owner, c.created_at,
  (SELECT count(*) FROM rag_documents d WHERE d.collection_id = c.collection_id) AS document_count,
  (SELECT coalesce(sum(d.chunk_count), 0) FROM rag_documents d WHERE d.collection_id = c.collection_id) AS chunk_count`;

const asBlob = (vector: Float32Array) => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

/**
 * Chunks written or deleted per transaction: each takes a few milliseconds (the FTS5 index
 * included), where a large document's 10,000 chunks in one would hold up every request for seconds.
 */
const WRITE_BATCH = 200;

/**
 * The retrieval store on the service's SQLite database. Give it the service's `SqliteDatabase`,
 * or a better-sqlite3 connection of your own (which needs the sqlite-vec extension loaded).
 */
export class SqliteDocumentStore implements DocumentStore {
  /** Strictly increasing creation times, so "newest first" holds within one millisecond too. */
  readonly #clock = new MonotonicClock();

  readonly database: SqliteDatabase | undefined;
  readonly db: BetterSqlite3.Database;

  constructor(database: SqliteDatabase | BetterSqlite3.Database) {
    this.database = database instanceof SqliteDatabase ? database : undefined;
    this.db = database instanceof SqliteDatabase ? database.connection : database;
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  async setup(): Promise<void> {
    if (this.database) this.database.migrate(DOCUMENT_MIGRATIONS);
    else {
      // A connection of the caller's: it may lack the extension, and has no version table to keep.
      loadVectorSearch(this.db);
      this.db.exec(DOCUMENT_MIGRATIONS.steps[0] as string);
    }
    // What a crash left behind while a document was being written or deleted.
    this.db.prepare("DELETE FROM rag_chunks WHERE NOT EXISTS (SELECT 1 FROM rag_documents d WHERE d.document_id = rag_chunks.document_id)").run();
  }

  async createCollection(collection: { collectionId: string; name: string; metadata: Record<string, unknown>; owner: string | undefined }): Promise<Collection> {
    this.db
      .prepare("INSERT INTO rag_collections (collection_id, name, metadata, owner, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(collection.collectionId, collection.name, JSON.stringify(collection.metadata), collection.owner ?? null, this.#now());
    return (await this.getCollection(collection.collectionId)) as Collection;
  }

  async getCollection(collectionId: string, owner?: string): Promise<Collection | null> {
    const row = this.db.prepare(`SELECT ${COLLECTION_COLUMNS} FROM rag_collections c WHERE c.collection_id = ?`).get(collectionId) as CollectionRow | undefined;
    if (!row || (owner !== undefined && row.owner !== owner)) return null;
    return toCollection(row);
  }

  async listCollections(options: { owner?: string; limit: number; offset: number }): Promise<Collection[]> {
    const rows = this.db
      .prepare(`SELECT ${COLLECTION_COLUMNS} FROM rag_collections c WHERE (? IS NULL OR c.owner = ?) ORDER BY c.created_at DESC, c.collection_id LIMIT ? OFFSET ?`)
      .all(options.owner ?? null, options.owner ?? null, options.limit, options.offset) as CollectionRow[];
    return rows.map(toCollection);
  }

  /** The collection and its documents go at once; their chunks, unseen from then on, in batches after. */
  async deleteCollection(collectionId: string): Promise<boolean> {
    const removed = this.db.transaction(() => {
      this.db.prepare("DELETE FROM rag_documents WHERE collection_id = ?").run(collectionId);
      return this.db.prepare("DELETE FROM rag_collections WHERE collection_id = ?").run(collectionId).changes > 0;
    })();
    await this.#deleteChunksInBatches("collection_id", collectionId);
    return removed;
  }

  /**
   * Writes the chunks in batches, yielding to the event loop between them, then the document's row,
   * which makes them visible all at once; on any failure the chunks written so far are removed, so
   * nothing of the document is kept.
   */
  async addDocument(document: NewDocument): Promise<StoredDocument> {
    // As on PostgreSQL (a foreign key there): a document needs its collection.
    const requireCollection = () => {
      if (!this.db.prepare("SELECT 1 FROM rag_collections WHERE collection_id = ?").get(document.collectionId)) throw new NotFoundError(`Collection ${document.collectionId} not found`);
    };
    requireCollection();
    const insertChunk = this.db.prepare("INSERT INTO rag_chunks (chunk_id, document_id, collection_id, position, text, embedding, dimensions) VALUES (?, ?, ?, ?, ?, ?, ?)");
    const insertBatch = this.db.transaction((start: number) => {
      for (let index = start; index < Math.min(start + WRITE_BATCH, document.chunks.length); index += 1) {
        const chunk = document.chunks[index] as Chunk;
        const embedding = document.embeddings?.[index];
        insertChunk.run(chunk.chunkId, document.documentId, document.collectionId, chunk.position, chunk.text, embedding ? asBlob(embedding) : null, embedding?.length ?? null);
      }
    });
    try {
      for (let start = 0; start < document.chunks.length; start += WRITE_BATCH) {
        if (start > 0) await yieldToEventLoop();
        insertBatch(start);
      }
      this.db.transaction(() => {
        // The collection may have been deleted meanwhile, and its chunks with it.
        requireCollection();
        const { count } = this.db.prepare("SELECT count(*) AS count FROM rag_chunks WHERE document_id = ?").get(document.documentId) as { count: number };
        if (count !== document.chunks.length) throw new AppError(`The chunks of ${document.source} changed while it was stored; it was not kept`, { isRetryable: true });
        this.db
          .prepare("INSERT INTO rag_documents (document_id, collection_id, source, content_type, metadata, characters, chunk_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
          .run(document.documentId, document.collectionId, document.source, document.contentType, JSON.stringify(document.metadata), document.characters, document.chunks.length, this.#now());
      })();
    } catch (error) {
      await this.#deleteChunksInBatches("document_id", document.documentId);
      throw error;
    }
    return (await this.getDocument(document.collectionId, document.documentId)) as StoredDocument;
  }

  /** Deletes the chunks of a document or collection whose row is gone, yielding between batches. */
  async #deleteChunksInBatches(column: "document_id" | "collection_id", id: string): Promise<void> {
    const deleteBatch = this.db.prepare(`DELETE FROM rag_chunks WHERE id IN (SELECT id FROM rag_chunks WHERE ${column} = ? LIMIT ${WRITE_BATCH})`);
    while (deleteBatch.run(id).changes === WRITE_BATCH) await yieldToEventLoop();
  }

  async getDocument(collectionId: string, documentId: string): Promise<StoredDocument | null> {
    const row = this.db.prepare("SELECT * FROM rag_documents WHERE collection_id = ? AND document_id = ?").get(collectionId, documentId) as DocumentRow | undefined;
    return row ? toStoredDocument(row) : null;
  }

  async listDocuments(collectionId: string, options: { limit: number; offset: number }): Promise<StoredDocument[]> {
    const rows = this.db
      .prepare("SELECT * FROM rag_documents WHERE collection_id = ? ORDER BY created_at DESC, document_id LIMIT ? OFFSET ?")
      .all(collectionId, options.limit, options.offset) as DocumentRow[];
    return rows.map(toStoredDocument);
  }

  /** The document's row goes at once; its chunks, unseen from then on, in batches after. */
  async deleteDocument(collectionId: string, documentId: string): Promise<boolean> {
    const removed = this.db.prepare("DELETE FROM rag_documents WHERE collection_id = ? AND document_id = ?").run(collectionId, documentId).changes > 0;
    if (removed) await this.#deleteChunksInBatches("document_id", documentId);
    return removed;
  }

  async getChunks(chunkIds: readonly string[]): Promise<Array<Chunk & { source: string }>> {
    if (chunkIds.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT c.chunk_id, c.document_id, c.position, c.text, d.source FROM rag_chunks c JOIN rag_documents d ON d.document_id = c.document_id
         WHERE c.chunk_id IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify(chunkIds)) as Array<{ chunk_id: string; document_id: string; position: number; text: string; source: string }>;
    return rows.map((row) => ({ chunkId: row.chunk_id, documentId: row.document_id, position: row.position, text: row.text, source: row.source }));
  }

  async searchText(collectionId: string, query: string, limit: number): Promise<RankedIds> {
    const terms = queryTerms(query);
    if (terms.length === 0) return [];
    // Any of the words, each quoted so FTS5 reads none of them as an operator; bm25 ranks.
    const match = terms.map((term) => `"${term}"`).join(" OR ");
    const rows = this.db
      .prepare(
        `SELECT c.chunk_id FROM rag_chunks_fts f JOIN rag_chunks c ON c.id = f.rowid JOIN rag_documents d ON d.document_id = c.document_id
         WHERE rag_chunks_fts MATCH ? AND c.collection_id = ? ORDER BY bm25(rag_chunks_fts), c.id LIMIT ?`,
      )
      .all(match, collectionId, limit) as Array<{ chunk_id: string }>;
    return rows.map((row) => row.chunk_id);
  }

  async searchVector(collectionId: string, embedding: Float32Array, limit: number): Promise<RankedIds> {
    const rows = this.db
      .prepare(
        `SELECT c.chunk_id FROM rag_chunks c JOIN rag_documents d ON d.document_id = c.document_id
         WHERE c.collection_id = ? AND c.dimensions = ? ORDER BY vec_distance_cosine(c.embedding, ?), c.id LIMIT ?`,
      )
      .all(collectionId, embedding.length, asBlob(embedding), limit) as Array<{ chunk_id: string }>;
    return rows.map((row) => row.chunk_id);
  }

  async countOtherDimensions(collectionId: string, dimensions: number): Promise<number> {
    const row = this.db
      .prepare(
        `SELECT count(*) AS count FROM rag_chunks c JOIN rag_documents d ON d.document_id = c.document_id
         WHERE c.collection_id = ? AND c.dimensions IS NOT NULL AND c.dimensions <> ?`,
      )
      .get(collectionId, dimensions) as { count: number };
    return row.count;
  }
}
