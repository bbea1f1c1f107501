/**
 * `DocumentIndex` on the SQLite store with a fake embeddings model: documents split as the
 * splitters split them, searches fused from full-text and vector rankings, and what happens when
 * a document is empty or the embeddings endpoint fails (on upload, and on search).
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ModelProviderError, NotFoundError, ValidationError } from "../../src/errors.js";
import { splitText, type ChunkingOptions } from "../../src/retrieval/chunking.js";
import { DocumentIndex } from "../../src/retrieval/document-index.js";
import { SqliteDocumentStore } from "../../src/storage/sqlite/document-store.js";
import { RRF_K } from "../../src/retrieval/fusion.js";

const DIMENSIONS = 64;
const CHUNKING: ChunkingOptions = { chunkSize: 200, chunkOverlap: 20 };

/** A stable hash of a word (FNV-1a), so the same word always lands in the same dimension. */
function hashWord(word: string): number {
  let hash = 0x811c9dc5;
  for (const character of word) {
    hash ^= character.codePointAt(0) as number;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Deterministic embeddings: a bag of words hashed into 64 dimensions, normalised. `synonyms`
 * maps a word onto another before hashing, which lets a test make two texts close as vectors
 * while they share no word for full-text search. `failing` makes every call throw.
 */
class HashingEmbeddings implements EmbeddingsInterface {
  failing: "never" | "documents" | "query" = "never";
  readonly documentCalls: string[][] = [];
  readonly queryCalls: string[] = [];

  constructor(readonly synonyms: Record<string, string> = {}) {}

  embed(text: string): number[] {
    const vector = new Array<number>(DIMENSIONS).fill(0);
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
      const index = hashWord(this.synonyms[word] ?? word) % DIMENSIONS;
      vector[index] = (vector[index] as number) + 1;
    }
    const length = Math.hypot(...vector);
    return length === 0 ? vector : vector.map((value) => value / length);
  }

  async embedDocuments(documents: string[]): Promise<number[][]> {
    this.documentCalls.push(documents);
    if (this.failing === "documents") throw new Error("embeddings endpoint returned 503");
    return documents.map((document) => this.embed(document));
  }

  async embedQuery(document: string): Promise<number[]> {
    this.queryCalls.push(document);
    if (this.failing === "query") throw new Error("embeddings endpoint timed out");
    return this.embed(document);
  }
}

const HANDBOOK = `# Customer handbook

How we look after customers, section by section.

## Refunds

Refunds are paid back to the original card within five working days. Ask for a refund from the orders page; no receipt is needed.

## Shipping

Parcels ship from Rotterdam every weekday. Shipping is free above fifty euros, and tracking links arrive by email.

## Warranty

Every device carries a two-year warranty. Repairs under warranty are free; accidental damage is not covered by it.
`;

const SECURITY = `Passwords must be changed every ninety days, and a new password may not repeat any of the last five.

Badges open the office doors from seven in the morning until ten at night. A lost badge is blocked the same day it is reported.

Laptops are encrypted before they leave the building, and screens lock after five idle minutes.`;

describe("DocumentIndex", () => {
  let db: Database.Database;
  let store: SqliteDocumentStore;
  let embeddings: HashingEmbeddings;
  let fallbacks: unknown[];
  let index: DocumentIndex;

  beforeEach(async () => {
    db = new Database(":memory:");
    store = new SqliteDocumentStore(db);
    await store.setup();
    embeddings = new HashingEmbeddings({ automobile: "car" });
    fallbacks = [];
    index = new DocumentIndex({ store, embeddings, chunking: CHUNKING, embeddingBatchSize: 2, onSearchFallback: (error) => fallbacks.push(error) });
  });
  afterEach(() => db.close());

  /** The texts stored for a document, in order. */
  const storedTexts = (documentId: string) =>
    (db.prepare("SELECT text, position FROM rag_chunks WHERE document_id = ? ORDER BY position").all(documentId) as Array<{ text: string; position: number }>).map(
      (row) => row.text,
    );

  it("splits Markdown and plain text as the splitters do, and embeds every chunk in batches", async () => {
    const { collectionId } = await index.createCollection({ name: "Company" });
    const handbook = await index.addDocument({ collectionId, source: "handbook.md", contentType: "text/markdown", text: HANDBOOK });
    const security = await index.addDocument({ collectionId, source: "security.txt", contentType: "text/plain", text: SECURITY, metadata: { team: "it" } });

    const handbookPieces = await splitText(HANDBOOK, "text/markdown", CHUNKING);
    const securityPieces = await splitText(SECURITY, "text/plain", CHUNKING);
    expect(handbookPieces.length).toBeGreaterThanOrEqual(3);
    expect(securityPieces.length).toBeGreaterThanOrEqual(3);
    expect(handbook).toMatchObject({ source: "handbook.md", contentType: "text/markdown", characters: HANDBOOK.length, chunkCount: handbookPieces.length });
    expect(security).toMatchObject({ source: "security.txt", contentType: "text/plain", metadata: { team: "it" }, chunkCount: securityPieces.length });
    expect(storedTexts(handbook.documentId)).toEqual(handbookPieces);
    expect(storedTexts(security.documentId)).toEqual(securityPieces);
    expect(await index.requireCollection(collectionId)).toMatchObject({ documentCount: 2, chunkCount: handbookPieces.length + securityPieces.length });

    // Batches of two, in order, covering every chunk once.
    expect(embeddings.documentCalls.every((batch) => batch.length <= 2)).toBe(true);
    expect(embeddings.documentCalls.flat()).toEqual([...handbookPieces, ...securityPieces]);
    expect(await store.countOtherDimensions(collectionId, DIMENSIONS)).toBe(0);
  });

  it("finds the chunk that answers the query first, by both methods", async () => {
    const { collectionId } = await index.createCollection({ name: "Company" });
    await index.addDocument({ collectionId, source: "handbook.md", contentType: "text/markdown", text: HANDBOOK });
    await index.addDocument({ collectionId, source: "security.txt", contentType: "text/plain", text: SECURITY });

    const refunds = await index.search(collectionId, "How many days until refunds are paid back?", 3);
    expect(refunds.methods).toEqual(["text", "vector"]);
    expect(refunds.hits.length).toBeGreaterThan(0);
    expect(refunds.hits.length).toBeLessThanOrEqual(3);
    const [first] = refunds.hits;
    expect(first).toMatchObject({ source: "handbook.md", ranks: { text: 1, vector: expect.any(Number) } });
    expect(first?.text).toContain("Refunds are paid back to the original card");
    // The question's filler words ("how", "are") blur the bag of words, so vectors may rank it second.
    expect(first?.score).toBeCloseTo(1 / (RRF_K + 1) + 1 / (RRF_K + (first?.ranks.vector as number)), 6);
    // Best first.
    const scores = refunds.hits.map((hit) => hit.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));

    const badges = await index.search(collectionId, "lost badge blocked", 2);
    expect(badges.hits[0]).toMatchObject({ source: "security.txt", ranks: { text: 1, vector: 1 } });
    expect(badges.hits[0]?.text).toContain("A lost badge is blocked");
    expect(embeddings.queryCalls).toEqual(["How many days until refunds are paid back?", "lost badge blocked"]);
    expect(fallbacks).toEqual([]);
  });

  it("ranks a chunk found by both methods above one found by vectors alone, even their best", async () => {
    const { collectionId } = await index.createCollection({ name: "Garage" });
    // "automobile" embeds as "car", so this is the query's nearest vector without containing "car".
    await index.addDocument({ collectionId, source: "synonym.txt", contentType: "text/plain", text: "automobile automobile" });
    await index.addDocument({ collectionId, source: "repairs.txt", contentType: "text/plain", text: "car repair shop notes" });

    const { hits, methods } = await index.search(collectionId, "car", 5);
    expect(methods).toEqual(["text", "vector"]);
    expect(hits.map((hit) => [hit.source, hit.ranks])).toEqual([
      ["repairs.txt", { text: 1, vector: 2 }],
      ["synonym.txt", { vector: 1 }],
    ]);
    expect(hits[0]?.score).toBeCloseTo(1 / (RRF_K + 1) + 1 / (RRF_K + 2), 6);
    expect(hits[1]?.score).toBeCloseTo(1 / (RRF_K + 1), 6);
  });

  it("refuses an empty document", async () => {
    const { collectionId } = await index.createCollection({ name: "Empty" });
    await expect(index.addDocument({ collectionId, source: "blank.txt", contentType: "text/plain", text: " \n\t " })).rejects.toBeInstanceOf(ValidationError);
    expect(embeddings.documentCalls).toEqual([]);
    expect(await store.listDocuments(collectionId, { limit: 10, offset: 0 })).toEqual([]);
  });

  it("refuses text or a source with NUL characters, which PostgreSQL could not store", async () => {
    const { collectionId } = await index.createCollection({ name: "Nul" });
    for (const input of [{ source: "nul.txt", text: "a\u0000b" }, { source: "nul\u0000.txt", text: "fine" }]) {
      await expect(index.addDocument({ collectionId, contentType: "text/plain", ...input })).rejects.toThrow(/NUL characters/);
    }
    expect(await store.listDocuments(collectionId, { limit: 10, offset: 0 })).toEqual([]);
  });

  it("stores nothing when the embeddings model fails on upload", async () => {
    const { collectionId } = await index.createCollection({ name: "Company" });
    // Fails on the second batch, after the first succeeded: still nothing may be kept.
    let calls = 0;
    const original = embeddings.embedDocuments.bind(embeddings);
    vi.spyOn(embeddings, "embedDocuments").mockImplementation(async (documents) => {
      calls += 1;
      if (calls === 2) throw new Error("embeddings endpoint returned 503");
      return original(documents);
    });

    const failure = await index.addDocument({ collectionId, source: "handbook.md", contentType: "text/markdown", text: HANDBOOK }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelProviderError);
    expect((failure as ModelProviderError).message).toContain("embeddings endpoint returned 503");
    expect((failure as ModelProviderError).cause).toBeInstanceOf(Error);
    expect(await store.listDocuments(collectionId, { limit: 10, offset: 0 })).toEqual([]);
    expect(await index.requireCollection(collectionId)).toMatchObject({ documentCount: 0, chunkCount: 0 });
    expect((db.prepare("SELECT count(*) AS count FROM rag_chunks").get() as { count: number }).count).toBe(0);
  });

  it("falls back to full-text search when embedding the query fails", async () => {
    const { collectionId } = await index.createCollection({ name: "Company" });
    await index.addDocument({ collectionId, source: "handbook.md", contentType: "text/markdown", text: HANDBOOK });
    embeddings.failing = "query";

    const { hits, methods } = await index.search(collectionId, "warranty repairs", 2);
    expect(methods).toEqual(["text"]);
    expect(hits[0]?.text).toContain("two-year warranty");
    expect(hits.every((hit) => hit.ranks.vector === undefined && hit.ranks.text !== undefined)).toBe(true);
    expect(fallbacks).toHaveLength(1);
    expect((fallbacks[0] as Error).message).toBe("embeddings endpoint timed out");
  });

  it("searches full-text alone without an embeddings model", async () => {
    const textOnly = new DocumentIndex({ store, chunking: CHUNKING });
    const { collectionId } = await textOnly.createCollection({ name: "Company" });
    await textOnly.addDocument({ collectionId, source: "security.txt", contentType: "text/plain", text: SECURITY });
    const { hits, methods } = await textOnly.search(collectionId, "encrypted laptops", 1);
    expect(methods).toEqual(["text"]);
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ source: "security.txt", ranks: { text: 1 } });
    expect(hits[0]?.text).toContain("Laptops are encrypted");
  });

  it("hides another owner's collection", async () => {
    const { collectionId } = await index.createCollection({ name: "Private", owner: "alice" });
    await expect(index.requireCollection(collectionId, "bob")).rejects.toBeInstanceOf(NotFoundError);
    expect(await index.requireCollection(collectionId, "alice")).toMatchObject({ collectionId, owner: "alice" });
  });
});
