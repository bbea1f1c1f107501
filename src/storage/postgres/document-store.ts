import type { Pool, PoolClient } from "pg";
import type { MigrationSet } from "../migrations.js";
import { PostgresDatabase } from "./database.js";
import { NotFoundError } from "../../errors.js";
import type { DocumentStore, NewDocument } from "../document-store.js";
import { queryTerms } from "../document-store.js";
import type { Chunk, Collection, DocumentContentType, RankedIds, StoredDocument } from "../documents.js";
import { MonotonicClock } from "../../monotonic-clock.js";

/**
 * The retrieval tables, numbered in `rag_migrations`. Documents and chunks hang off
 * their collection by foreign keys with `ON DELETE CASCADE`, so a delete takes everything below
 * it in the same statement. `text_search` is generated from the text (English stemming) and
 * GIN-indexed for full-text search. Embeddings are float32 vectors in a `bytea` (4 bytes a
 * dimension, the platform's little-endian order, as in the SQLite store): pgvector is not assumed,
 * so the cosine scan happens in Node over a cached copy (see `PostgresDocumentStore`).
 * `revision` changes, from a sequence, on every write to a collection's documents; a sequence
 * rather than a counter so that a collection deleted and created again under the same id never
 * repeats an old revision.
 */
export const documentMigrations = (schema: string): MigrationSet => ({
  table: "rag_migrations",
  steps: [
  `CREATE SEQUENCE ${schema}.rag_revisions;
   CREATE TABLE ${schema}.rag_collections (
     collection_id TEXT COLLATE "C" PRIMARY KEY,
     name TEXT NOT NULL,
     metadata JSONB NOT NULL DEFAULT '{}',
     owner TEXT,
     created_at TIMESTAMPTZ NOT NULL,
     revision BIGINT NOT NULL DEFAULT nextval('${schema}.rag_revisions')
   );
   CREATE INDEX rag_collections_owner_created ON ${schema}.rag_collections (owner, created_at);
   CREATE TABLE ${schema}.rag_documents (
     document_id TEXT COLLATE "C" PRIMARY KEY,
     collection_id TEXT COLLATE "C" NOT NULL REFERENCES ${schema}.rag_collections (collection_id) ON DELETE CASCADE,
     source TEXT NOT NULL,
     content_type TEXT NOT NULL,
     metadata JSONB NOT NULL DEFAULT '{}',
     characters INTEGER NOT NULL,
     chunk_count INTEGER NOT NULL,
     created_at TIMESTAMPTZ NOT NULL
   );
   CREATE INDEX rag_documents_collection_created ON ${schema}.rag_documents (collection_id, created_at);
   CREATE TABLE ${schema}.rag_chunks (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     chunk_id TEXT COLLATE "C" NOT NULL UNIQUE,
     document_id TEXT COLLATE "C" NOT NULL REFERENCES ${schema}.rag_documents (document_id) ON DELETE CASCADE,
     collection_id TEXT COLLATE "C" NOT NULL,
     position INTEGER NOT NULL,
     text TEXT NOT NULL,
     text_search TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
     embedding BYTEA,
     dimensions INTEGER
   );
   CREATE INDEX rag_chunks_document ON ${schema}.rag_chunks (document_id, position);
   CREATE INDEX rag_chunks_collection ON ${schema}.rag_chunks (collection_id, dimensions);
   CREATE INDEX rag_chunks_text_search ON ${schema}.rag_chunks USING gin (text_search);`,
  ],
});

interface CollectionRow {
  collection_id: string;
  name: string;
  metadata: Record<string, unknown>;
  owner: string | null;
  created_at: Date;
  document_count: string | number;
  chunk_count: string | number;
}

interface DocumentRow {
  document_id: string;
  collection_id: string;
  source: string;
  content_type: string;
  metadata: Record<string, unknown>;
  characters: number;
  chunk_count: number;
  created_at: Date;
}

const toCollection = (row: CollectionRow): Collection => ({
  collectionId: row.collection_id,
  name: row.name,
  metadata: row.metadata,
  owner: row.owner ?? undefined,
  createdAt: row.created_at,
  // count() and sum() are bigint, which node-postgres returns as strings.
  documentCount: Number(row.document_count),
  chunkCount: Number(row.chunk_count),
});

const toStoredDocument = (row: DocumentRow): StoredDocument => ({
  documentId: row.document_id,
  collectionId: row.collection_id,
  source: row.source,
  contentType: row.content_type as DocumentContentType,
  metadata: row.metadata,
  characters: row.characters,
  chunkCount: row.chunk_count,
  createdAt: row.created_at,
});

const asBytes = (vector: Float32Array) => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

/** Rows per INSERT when storing a document's chunks, so one huge document is not one huge statement. */
const INSERT_BATCH = 500;

/** The embeddings of one dimension in a collection: row `i` of `vectors` (normalised) is `chunkIds[i]`. */
interface VectorGroup {
  chunkIds: string[];
  vectors: Float32Array;
}

/** A collection's embeddings as of `revision`, grouped by dimension. */
interface CachedVectors {
  revision: string;
  groups: Map<number, VectorGroup>;
}

/** What `PostgresDocumentStore` is built with. */
export interface PostgresDocumentStoreOptions {
  /** The schema, when the store is given a pool rather than the service's `PostgresDatabase`. */
  schema?: string;
  /** Collections whose embeddings are kept in memory, least recently searched dropped first. */
  cachedCollections?: number;
}

/**
 * The retrieval store on PostgreSQL, in the service's schema, shared with the rest of storage. Full-text search is PostgreSQL's own (`tsvector`, GIN, `ts_rank_cd`). Vector search is
 * an exact cosine scan in Node: each collection's embeddings are read once, normalised, and kept
 * until its `revision` changes, which every write bumps in its own transaction, so a search sees
 * other instances' writes as soon as they commit and costs one small query while nothing changed.
 */
export class PostgresDocumentStore implements DocumentStore {
  readonly #database: PostgresDatabase;
  readonly #schema: string;
  readonly #cacheLimit: number;
  /** In least recently used order: a hit is moved to the end. */
  readonly #vectorCache = new Map<string, CachedVectors>();
  /** Timestamps strictly increase within the process, so "newest first" is stable. */
  readonly #clock = new MonotonicClock();

  /** Give it the service's `PostgresDatabase`, or a pool of your own (which it does not end) and a schema. */
  constructor(database: PostgresDatabase | Pool, options: PostgresDocumentStoreOptions = {}) {
    this.#database = database instanceof PostgresDatabase ? database : new PostgresDatabase(database, { schema: options.schema });
    this.#schema = this.#database.schema;
    this.#cacheLimit = Math.max(1, options.cachedCollections ?? 32);
  }

  /** Creates or migrates the tables; idempotent, and safe when several instances start at once. */
  setup(): Promise<void> {
    return this.#database.migrate(documentMigrations(this.#schema));
  }

  #now(): Date {
    return this.#clock.now();
  }

  get #collectionColumns(): string {
    return `c.collection_id, c.name, c.metadata, c.owner, c.created_at,
      (SELECT count(*) FROM ${this.#schema}.rag_documents d WHERE d.collection_id = c.collection_id) AS document_count,
      (SELECT coalesce(sum(d.chunk_count), 0) FROM ${this.#schema}.rag_documents d WHERE d.collection_id = c.collection_id) AS chunk_count`;
  }

  async createCollection(collection: { collectionId: string; name: string; metadata: Record<string, unknown>; owner: string | undefined }): Promise<Collection> {
    await this.setup();
    const { rows } = await this.#database.query<{ collection_id: string; name: string; metadata: Record<string, unknown>; owner: string | null; created_at: Date }>(
      `INSERT INTO ${this.#schema}.rag_collections (collection_id, name, metadata, owner, created_at) VALUES ($1, $2, $3, $4, $5)
       RETURNING collection_id, name, metadata, owner, created_at`,
      [collection.collectionId, collection.name, JSON.stringify(collection.metadata), collection.owner ?? null, this.#now()],
    );
    return toCollection({ ...(rows[0] as NonNullable<(typeof rows)[0]>), document_count: 0, chunk_count: 0 });
  }

  async getCollection(collectionId: string, owner?: string): Promise<Collection | null> {
    await this.setup();
    const { rows } = await this.#database.query<CollectionRow>(
      `SELECT ${this.#collectionColumns} FROM ${this.#schema}.rag_collections c WHERE c.collection_id = $1 AND ($2::text IS NULL OR c.owner = $2)`,
      [collectionId, owner ?? null],
    );
    return rows[0] ? toCollection(rows[0]) : null;
  }

  async listCollections(options: { owner?: string; limit: number; offset: number }): Promise<Collection[]> {
    await this.setup();
    const { rows } = await this.#database.query<CollectionRow>(
      `SELECT ${this.#collectionColumns} FROM ${this.#schema}.rag_collections c WHERE ($1::text IS NULL OR c.owner = $1)
       ORDER BY c.created_at DESC, c.collection_id LIMIT $2 OFFSET $3`,
      [options.owner ?? null, options.limit, options.offset],
    );
    return rows.map(toCollection);
  }

  async deleteCollection(collectionId: string): Promise<boolean> {
    await this.setup();
    // The foreign keys cascade: documents and chunks go in this one statement.
    const { rowCount } = await this.#database.query(`DELETE FROM ${this.#schema}.rag_collections WHERE collection_id = $1`, [collectionId]);
    this.#vectorCache.delete(collectionId);
    return (rowCount ?? 0) > 0;
  }

  /** A document for a collection that does not exist is a `NotFoundError`. */
  async addDocument(document: NewDocument): Promise<StoredDocument> {
    await this.setup();
    return this.#database.transaction(async (client) => {
      // Bumping the revision first also locks the collection row, so a concurrent delete of the
      // collection waits for this document (or this waits for it and finds nothing).
      await this.#bumpRevision(client, document.collectionId, true);
      const { rows } = await client.query<DocumentRow>(
        `INSERT INTO ${this.#schema}.rag_documents (document_id, collection_id, source, content_type, metadata, characters, chunk_count, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [
          document.documentId,
          document.collectionId,
          document.source,
          document.contentType,
          JSON.stringify(document.metadata),
          document.characters,
          document.chunks.length,
          this.#now(),
        ],
      );
      for (let start = 0; start < document.chunks.length; start += INSERT_BATCH) {
        const batch = document.chunks.slice(start, start + INSERT_BATCH);
        const embeddings = batch.map((_, index) => document.embeddings?.[start + index]);
        await client.query(
          `INSERT INTO ${this.#schema}.rag_chunks (chunk_id, document_id, collection_id, position, text, embedding, dimensions)
           SELECT chunk_id, $1, $2, position, text, embedding, dimensions
           FROM unnest($3::text[], $4::int[], $5::text[], $6::bytea[], $7::int[]) AS chunk(chunk_id, position, text, embedding, dimensions)`,
          [
            document.documentId,
            document.collectionId,
            batch.map((chunk) => chunk.chunkId),
            batch.map((chunk) => chunk.position),
            batch.map((chunk) => chunk.text),
            embeddings.map((embedding) => (embedding ? asBytes(embedding) : null)),
            embeddings.map((embedding) => embedding?.length ?? null),
          ],
        );
      }
      return toStoredDocument(rows[0] as DocumentRow);
    });
  }

  async #bumpRevision(client: PoolClient, collectionId: string, required: boolean): Promise<void> {
    const { rowCount } = await client.query(`UPDATE ${this.#schema}.rag_collections SET revision = nextval('${this.#schema}.rag_revisions') WHERE collection_id = $1`, [
      collectionId,
    ]);
    if (required && (rowCount ?? 0) === 0) throw new NotFoundError(`Collection ${collectionId} not found`);
  }

  async getDocument(collectionId: string, documentId: string): Promise<StoredDocument | null> {
    await this.setup();
    const { rows } = await this.#database.query<DocumentRow>(`SELECT * FROM ${this.#schema}.rag_documents WHERE collection_id = $1 AND document_id = $2`, [
      collectionId,
      documentId,
    ]);
    return rows[0] ? toStoredDocument(rows[0]) : null;
  }

  async listDocuments(collectionId: string, options: { limit: number; offset: number }): Promise<StoredDocument[]> {
    await this.setup();
    const { rows } = await this.#database.query<DocumentRow>(
      `SELECT * FROM ${this.#schema}.rag_documents WHERE collection_id = $1 ORDER BY created_at DESC, document_id LIMIT $2 OFFSET $3`,
      [collectionId, options.limit, options.offset],
    );
    return rows.map(toStoredDocument);
  }

  async deleteDocument(collectionId: string, documentId: string): Promise<boolean> {
    await this.setup();
    return this.#database.transaction(async (client) => {
      // The cascade takes the chunks (and with them their tsvector and embedding) in this statement.
      const { rowCount } = await client.query(`DELETE FROM ${this.#schema}.rag_documents WHERE collection_id = $1 AND document_id = $2`, [collectionId, documentId]);
      const removed = (rowCount ?? 0) > 0;
      if (removed) await this.#bumpRevision(client, collectionId, false);
      return removed;
    });
  }

  async getChunks(chunkIds: readonly string[]): Promise<Array<Chunk & { source: string }>> {
    if (chunkIds.length === 0) return [];
    await this.setup();
    const { rows } = await this.#database.query<{ chunk_id: string; document_id: string; position: number; text: string; source: string }>(
      `SELECT c.chunk_id, c.document_id, c.position, c.text, d.source FROM ${this.#schema}.rag_chunks c
       JOIN ${this.#schema}.rag_documents d ON d.document_id = c.document_id WHERE c.chunk_id = ANY($1::text[])`,
      [[...chunkIds]],
    );
    return rows.map((row) => ({ chunkId: row.chunk_id, documentId: row.document_id, position: row.position, text: row.text, source: row.source }));
  }

  async searchText(collectionId: string, query: string, limit: number): Promise<RankedIds> {
    const terms = queryTerms(query);
    if (terms.length === 0) return [];
    await this.setup();
    // Any of the words. queryTerms keeps letters and digits only, and each is quoted, so
    // to_tsquery sees no operator; it stems them as to_tsvector stemmed the text.
    const tsquery = terms.map((term) => `'${term}'`).join(" | ");
    const { rows } = await this.#database.query<{ chunk_id: string }>(
      `SELECT c.chunk_id FROM ${this.#schema}.rag_chunks c, to_tsquery('english'::regconfig, $2) AS query
       WHERE c.collection_id = $1 AND c.text_search @@ query ORDER BY ts_rank_cd(c.text_search, query) DESC, c.id LIMIT $3`,
      [collectionId, tsquery, limit],
    );
    return rows.map((row) => row.chunk_id);
  }

  async searchVector(collectionId: string, embedding: Float32Array, limit: number): Promise<RankedIds> {
    if (limit <= 0) return [];
    await this.setup();
    const cached = await this.#vectors(collectionId);
    const group = cached?.groups.get(embedding.length);
    if (!group) return [];
    return nearest(group, normalised(embedding), limit);
  }

  /** The collection's embeddings, read again only when its revision moved; null when it is gone. */
  async #vectors(collectionId: string): Promise<CachedVectors | null> {
    const { rows } = await this.#database.query<{ revision: string }>(`SELECT revision FROM ${this.#schema}.rag_collections WHERE collection_id = $1`, [collectionId]);
    const revision = rows[0]?.revision;
    const cached = this.#vectorCache.get(collectionId);
    this.#vectorCache.delete(collectionId);
    if (revision === undefined) return null;
    if (cached?.revision === revision) {
      this.#vectorCache.set(collectionId, cached);
      return cached;
    }
    const fresh = await this.#loadVectors(collectionId);
    if (!fresh) return null;
    this.#vectorCache.set(collectionId, fresh);
    while (this.#vectorCache.size > this.#cacheLimit) this.#vectorCache.delete(this.#vectorCache.keys().next().value as string);
    return fresh;
  }

  async #loadVectors(collectionId: string): Promise<CachedVectors | null> {
    return this.#database.transaction(async (client) => {
      // One snapshot for the revision and the rows, so what is cached is exactly that revision.
      await client.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const { rows: collections } = await client.query<{ revision: string }>(`SELECT revision FROM ${this.#schema}.rag_collections WHERE collection_id = $1`, [
        collectionId,
      ]);
      const revision = collections[0]?.revision;
      if (revision === undefined) return null;
      const { rows } = await client.query<{ chunk_id: string; embedding: Buffer; dimensions: number }>(
        `SELECT chunk_id, embedding, dimensions FROM ${this.#schema}.rag_chunks
         WHERE collection_id = $1 AND embedding IS NOT NULL ORDER BY id`,
        [collectionId],
      );
      return { revision, groups: groupVectors(rows) };
    });
  }

  async countOtherDimensions(collectionId: string, dimensions: number): Promise<number> {
    await this.setup();
    const { rows } = await this.#database.query<{ count: string }>(
      `SELECT count(*) AS count FROM ${this.#schema}.rag_chunks WHERE collection_id = $1 AND dimensions IS NOT NULL AND dimensions <> $2`,
      [collectionId, dimensions],
    );
    return Number(rows[0]?.count ?? 0);
  }
}

/** `vector` scaled to length 1; a zero vector stays zero (it is then at distance 1 from everything). */
function normalised(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const length = Math.sqrt(sum);
  const result = new Float32Array(vector.length);
  if (length > 0) for (let index = 0; index < vector.length; index += 1) result[index] = (vector[index] as number) / length;
  return result;
}

/** Rows of one collection (in insertion order) as one contiguous, normalised matrix per dimension. */
function groupVectors(rows: Array<{ chunk_id: string; embedding: Buffer; dimensions: number }>): Map<number, VectorGroup> {
  const counts = new Map<number, number>();
  for (const row of rows) counts.set(row.dimensions, (counts.get(row.dimensions) ?? 0) + 1);
  const groups = new Map<number, VectorGroup>();
  for (const [dimensions, count] of counts) groups.set(dimensions, { chunkIds: [], vectors: new Float32Array(count * dimensions) });
  for (const row of rows) {
    const group = groups.get(row.dimensions) as VectorGroup;
    // Copied out of the Buffer: its offset in node-postgres's pool need not be 4-byte aligned.
    const raw = new Float32Array(new Uint8Array(row.embedding).buffer, 0, row.dimensions);
    group.vectors.set(normalised(raw), group.chunkIds.length * row.dimensions);
    group.chunkIds.push(row.chunk_id);
  }
  return groups;
}

/**
 * The `limit` rows of `group` with the highest cosine similarity to `query` (normalised), best
 * first; ties go to the older chunk, as `ORDER BY distance, id` does in the SQLite store.
 */
function nearest(group: VectorGroup, query: Float32Array, limit: number): string[] {
  const dimensions = query.length;
  // The best so far, best first: a short sorted list, since `limit` is small next to the collection.
  const best: Array<{ index: number; similarity: number }> = [];
  for (let index = 0; index < group.chunkIds.length; index += 1) {
    let similarity = 0;
    const offset = index * dimensions;
    for (let dimension = 0; dimension < dimensions; dimension += 1) similarity += (group.vectors[offset + dimension] as number) * (query[dimension] as number);
    if (best.length === limit && similarity <= (best[best.length - 1] as { similarity: number }).similarity) continue;
    let at = best.length;
    while (at > 0 && (best[at - 1] as { similarity: number }).similarity < similarity) at -= 1;
    best.splice(at, 0, { index, similarity });
    if (best.length > limit) best.pop();
  }
  return best.map((entry) => group.chunkIds[entry.index] as string);
}
