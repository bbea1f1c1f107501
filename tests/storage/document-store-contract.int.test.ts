/**
 * The document store contract, run against the SQLite store and (when a server answers) the
 * PostgreSQL store: collections with their counts and owners, documents, chunks leaving every
 * index when deleted, full-text search (ranking, stemming, hostile queries, scoping), exact
 * cosine search by dimension, and a second store on the same database seeing the first's writes.
 */
import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DocumentStore, NewDocument } from "../../src/storage/document-store.js";
import { PostgresDocumentStore } from "../../src/storage/postgres/document-store.js";
import { SqliteDocumentStore } from "../../src/storage/sqlite/document-store.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";

/** One database; each `open` is a new store object on it, as another instance or a restart would be. */
interface Backend {
  open(): Promise<DocumentStore>;
  dispose(): Promise<void>;
}

/** A collection's fields, with a fresh id so tests sharing a database never see each other's. */
const makeCollection = (overrides: Partial<{ collectionId: string; name: string; metadata: Record<string, unknown>; owner: string | undefined }> = {}) => ({
  collectionId: `collection-${randomUUID()}`,
  name: "Handbook",
  metadata: {},
  owner: undefined,
  ...overrides,
});

/** A document of `texts` (one chunk each) with optional embeddings, given as plain arrays. */
function makeDocument(collectionId: string, texts: string[], overrides: Partial<Omit<NewDocument, "embeddings">> & { embeddings?: number[][] } = {}): NewDocument {
  const documentId = overrides.documentId ?? `document-${randomUUID()}`;
  const { embeddings, ...rest } = overrides;
  return {
    documentId,
    collectionId,
    source: "handbook.md",
    contentType: "text/markdown",
    metadata: {},
    characters: texts.join("\n\n").length,
    chunks: texts.map((text, position) => ({ chunkId: `${documentId}-chunk-${position}`, documentId, position, text })),
    ...(embeddings ? { embeddings: embeddings.map((vector) => Float32Array.from(vector)) } : {}),
    ...rest,
  };
}

/** Runs the contract against the stores `create` opens. */
export function describeDocumentStore(name: string, create: () => Promise<Backend>) {
  describe(name, () => {
    let backend: Backend;
    let store: DocumentStore;
    beforeAll(async () => {
      backend = await create();
      store = await backend.open();
      await store.setup();
    });
    afterAll(async () => {
      await backend?.dispose();
    });

    /** A fresh collection in `store`. */
    const newCollection = (overrides: Parameters<typeof makeCollection>[0] = {}) => store.createCollection(makeCollection(overrides));

    it("sets up idempotently, also from several stores at once", async () => {
      await store.setup();
      const others = await Promise.all([backend.open(), backend.open()]);
      await Promise.all(others.map((other) => other.setup()));
    });

    describe("collections", () => {
      it("creates, reads and deletes a collection", async () => {
        const created = await newCollection({ name: "Policies", metadata: { team: "support", tags: ["a"] } });
        expect(created).toMatchObject({ name: "Policies", metadata: { team: "support", tags: ["a"] }, owner: undefined, documentCount: 0, chunkCount: 0 });
        expect(created.createdAt).toBeInstanceOf(Date);
        expect(await store.getCollection(created.collectionId)).toEqual(created);
        expect(await store.deleteCollection(created.collectionId)).toBe(true);
        expect(await store.getCollection(created.collectionId)).toBeNull();
        expect(await store.deleteCollection(created.collectionId)).toBe(false);
      });

      it("returns null for an unknown collection", async () => {
        expect(await store.getCollection("no-such-collection")).toBeNull();
      });

      it("counts documents and chunks", async () => {
        const { collectionId } = await newCollection();
        await store.addDocument(makeDocument(collectionId, ["one", "two", "three"]));
        await store.addDocument(makeDocument(collectionId, ["four"]));
        expect(await store.getCollection(collectionId)).toMatchObject({ documentCount: 2, chunkCount: 4 });
        const [listed] = await store.listCollections({ owner: undefined, limit: 1000, offset: 0 }).then((all) => all.filter((entry) => entry.collectionId === collectionId));
        expect(listed).toMatchObject({ documentCount: 2, chunkCount: 4 });
      });

      it("scopes collections to their owner", async () => {
        const alice = `alice-${randomUUID()}`;
        const bob = `bob-${randomUUID()}`;
        const owned = await newCollection({ owner: alice });
        expect(owned.owner).toBe(alice);
        expect(await store.getCollection(owned.collectionId, alice)).toMatchObject({ collectionId: owned.collectionId, owner: alice });
        expect(await store.getCollection(owned.collectionId, bob)).toBeNull();
        // No owner given: authentication is off, and everything is visible.
        expect(await store.getCollection(owned.collectionId)).not.toBeNull();
        await newCollection({ owner: bob });
        expect((await store.listCollections({ owner: alice, limit: 10, offset: 0 })).map((entry) => entry.collectionId)).toEqual([owned.collectionId]);
        expect(await store.listCollections({ owner: `nobody-${randomUUID()}`, limit: 10, offset: 0 })).toEqual([]);
      });

      it("lists newest first, a page at a time", async () => {
        const owner = `owner-${randomUUID()}`;
        const ids: string[] = [];
        for (let index = 0; index < 5; index += 1) {
          ids.push((await newCollection({ owner, name: `collection ${index}` })).collectionId);
          // Timestamps are to the millisecond: keep creations in distinct ones.
          await sleep(3);
        }
        const newestFirst = [...ids].reverse();
        const page = (offset: number) => store.listCollections({ owner, limit: 2, offset }).then((rows) => rows.map((row) => row.collectionId));
        expect(await page(0)).toEqual(newestFirst.slice(0, 2));
        expect(await page(2)).toEqual(newestFirst.slice(2, 4));
        expect(await page(4)).toEqual(newestFirst.slice(4));
        expect(await page(6)).toEqual([]);
      });
    });

    describe("documents", () => {
      it("adds, reads, lists and deletes documents", async () => {
        const { collectionId } = await newCollection();
        const stored = await store.addDocument(
          makeDocument(collectionId, ["Refunds take five days.", "Shipping is free."], { source: "policy.txt", contentType: "text/plain", metadata: { version: 2 }, characters: 41 }),
        );
        expect(stored).toMatchObject({ collectionId, source: "policy.txt", contentType: "text/plain", metadata: { version: 2 }, characters: 41, chunkCount: 2 });
        expect(stored.createdAt).toBeInstanceOf(Date);
        expect(await store.getDocument(collectionId, stored.documentId)).toEqual(stored);
        expect(await store.getDocument("another-collection", stored.documentId)).toBeNull();
        expect(await store.getDocument(collectionId, "no-such-document")).toBeNull();

        await sleep(3);
        const second = await store.addDocument(makeDocument(collectionId, ["Returns need a receipt."]));
        const listed = await store.listDocuments(collectionId, { limit: 10, offset: 0 });
        expect(listed.map((document) => document.documentId)).toEqual([second.documentId, stored.documentId]);
        expect((await store.listDocuments(collectionId, { limit: 1, offset: 1 })).map((document) => document.documentId)).toEqual([stored.documentId]);
        expect(await store.listDocuments("another-collection", { limit: 10, offset: 0 })).toEqual([]);

        expect(await store.deleteDocument("another-collection", stored.documentId)).toBe(false);
        expect(await store.deleteDocument(collectionId, stored.documentId)).toBe(true);
        expect(await store.deleteDocument(collectionId, stored.documentId)).toBe(false);
        expect(await store.getDocument(collectionId, stored.documentId)).toBeNull();
        expect(await store.getCollection(collectionId)).toMatchObject({ documentCount: 1, chunkCount: 1 });
      });

      it("returns chunks by id with their source", async () => {
        const { collectionId } = await newCollection();
        const document = makeDocument(collectionId, ["first part", "second part"], { source: "guide.md" });
        await store.addDocument(document);
        const chunks = await store.getChunks([`${document.documentId}-chunk-1`, `${document.documentId}-chunk-0`, "no-such-chunk"]);
        expect(chunks.sort((a, b) => a.position - b.position)).toEqual([
          { chunkId: `${document.documentId}-chunk-0`, documentId: document.documentId, position: 0, text: "first part", source: "guide.md" },
          { chunkId: `${document.documentId}-chunk-1`, documentId: document.documentId, position: 1, text: "second part", source: "guide.md" },
        ]);
        expect(await store.getChunks([])).toEqual([]);
      });

      it("takes a deleted document's chunks out of every index at once", async () => {
        const { collectionId } = await newCollection();
        const kept = makeDocument(collectionId, ["The warranty lasts two years."], { embeddings: [[0, 1, 0, 0]] });
        const removed = makeDocument(collectionId, ["The warranty can be extended."], { embeddings: [[1, 0, 0, 0]] });
        await store.addDocument(kept);
        await store.addDocument(removed);
        const removedChunk = `${removed.documentId}-chunk-0`;
        // Searched first, so anything cached has to notice the delete.
        expect(await store.searchText(collectionId, "warranty", 10)).toContain(removedChunk);
        expect(await store.searchVector(collectionId, Float32Array.from([1, 0, 0, 0]), 10)).toEqual([removedChunk, `${kept.documentId}-chunk-0`]);

        expect(await store.deleteDocument(collectionId, removed.documentId)).toBe(true);
        expect(await store.searchText(collectionId, "warranty", 10)).toEqual([`${kept.documentId}-chunk-0`]);
        expect(await store.searchVector(collectionId, Float32Array.from([1, 0, 0, 0]), 10)).toEqual([`${kept.documentId}-chunk-0`]);
        expect(await store.getChunks([removedChunk])).toEqual([]);
      });

      it("deletes a collection with everything in it", async () => {
        const { collectionId } = await newCollection();
        const document = makeDocument(collectionId, ["Invoices are sent monthly."], { embeddings: [[1, 1, 0, 0]] });
        await store.addDocument(document);
        expect(await store.searchVector(collectionId, Float32Array.from([1, 1, 0, 0]), 5)).toHaveLength(1);

        expect(await store.deleteCollection(collectionId)).toBe(true);
        expect(await store.getDocument(collectionId, document.documentId)).toBeNull();
        expect(await store.listDocuments(collectionId, { limit: 10, offset: 0 })).toEqual([]);
        expect(await store.getChunks([`${document.documentId}-chunk-0`])).toEqual([]);
        expect(await store.searchText(collectionId, "invoices", 10)).toEqual([]);
        expect(await store.searchVector(collectionId, Float32Array.from([1, 1, 0, 0]), 10)).toEqual([]);
        expect(await store.countOtherDimensions(collectionId, 3)).toBe(0);
      });
    });

    describe("large documents", () => {
      /** `count` chunks, each with `word` in it: more than one write batch on either store. */
      const manyChunks = (count: number, word: string) => Array.from({ length: count }, (_, index) => `Part ${index} of the ${word} manual.`);

      it("keeps nothing of a document whose collection is deleted while it is stored", async () => {
        const { collectionId } = await newCollection();
        const document = makeDocument(collectionId, manyChunks(1200, "windmill"));
        const adding = store.addDocument(document).then(
          () => "stored",
          (error: unknown) => error,
        );
        await setImmediate();
        expect(await store.deleteCollection(collectionId)).toBe(true);
        const outcome = await adding;
        // Either the document went in first and the delete took it (PostgreSQL: the collection's
        // row is locked while its document is written), or the write found the collection gone.
        if (outcome !== "stored") expect((outcome as Error).message).toMatch(/Collection .* not found/);
        expect(await store.getChunks(document.chunks.map((chunk) => chunk.chunkId))).toEqual([]);
        expect(await store.searchText(collectionId, "windmill", 10)).toEqual([]);
        expect(await store.getDocument(collectionId, document.documentId)).toBeNull();
      });
    });

    describe("full-text search", () => {
      let collectionId: string;
      let otherCollectionId: string;
      let ids: { both: string; refundOnly: string; unrelated: string; other: string };
      beforeAll(async () => {
        collectionId = (await newCollection()).collectionId;
        otherCollectionId = (await newCollection()).collectionId;
        const document = makeDocument(collectionId, [
          "Shipping is free for orders over fifty euros.",
          "A refund is issued to the original card.",
          "Our refund policy: a refund is possible within thirty days, as the policy says.",
        ]);
        await store.addDocument(document);
        const other = makeDocument(otherCollectionId, ["The refund policy of another shop."]);
        await store.addDocument(other);
        ids = {
          unrelated: `${document.documentId}-chunk-0`,
          refundOnly: `${document.documentId}-chunk-1`,
          both: `${document.documentId}-chunk-2`,
          other: `${other.documentId}-chunk-0`,
        };
      });

      it("ranks the chunk with the query's words first", async () => {
        expect(await store.searchText(collectionId, "refund policy", 10)).toEqual([ids.both, ids.refundOnly]);
      });

      it("matches stemmed forms", async () => {
        expect(await store.searchText(collectionId, "refunds", 10)).toEqual(expect.arrayContaining([ids.both, ids.refundOnly]));
        expect(await store.searchText(collectionId, "orders shipped", 10)).toEqual([ids.unrelated]);
      });

      it("reads punctuation and operators in the query as nothing but separators", async () => {
        for (const query of [`"AND OR NOT (* :`, "refund AND NOT (policy*)", "refund:* & !policy | 'x'", 'NEAR("refund" policy)', "-refund +policy"]) {
          const found = await store.searchText(collectionId, query, 10);
          expect(found, query).toEqual(expect.arrayContaining(query.includes("refund") ? [ids.both, ids.refundOnly] : []));
        }
      });

      it("stays inside the collection", async () => {
        expect(await store.searchText(collectionId, "refund shop another", 10)).not.toContain(ids.other);
        expect(await store.searchText(otherCollectionId, "refund", 10)).toEqual([ids.other]);
        expect(await store.searchText("no-such-collection", "refund", 10)).toEqual([]);
      });

      it("returns nothing for an empty query, or one without words", async () => {
        expect(await store.searchText(collectionId, "", 10)).toEqual([]);
        expect(await store.searchText(collectionId, "  ?!* ", 10)).toEqual([]);
      });

      it("keeps to the limit", async () => {
        const [only, ...rest] = await store.searchText(collectionId, "refund", 1);
        expect(rest).toEqual([]);
        expect([ids.both, ids.refundOnly]).toContain(only);
      });
    });

    describe("vector search", () => {
      it("returns the nearest chunks first by cosine, of the query's dimension only", async () => {
        const { collectionId } = await newCollection();
        const four = makeDocument(collectionId, ["north", "north-east", "east", "south"], {
          embeddings: [
            [0, 10, 0, 0], // length does not matter to cosine: this is "north"
            [1, 1, 0, 0],
            [1, 0, 0, 0],
            [0, -1, 0, 0],
          ],
        });
        const three = makeDocument(collectionId, ["old model", "old model too"], { embeddings: [[0, 1, 0], [1, 0, 0]] });
        const none = makeDocument(collectionId, ["no embedding"]);
        for (const document of [four, three, none]) await store.addDocument(document);
        const chunk = (position: number) => `${four.documentId}-chunk-${position}`;

        expect(await store.searchVector(collectionId, Float32Array.from([0, 1, 0, 0]), 10)).toEqual([chunk(0), chunk(1), chunk(2), chunk(3)]);
        expect(await store.searchVector(collectionId, Float32Array.from([2, 0.1, 0, 0]), 2)).toEqual([chunk(2), chunk(1)]);
        expect(await store.searchVector(collectionId, Float32Array.from([0, 1, 0]), 10)).toEqual([`${three.documentId}-chunk-0`, `${three.documentId}-chunk-1`]);
        expect(await store.searchVector(collectionId, Float32Array.from([1, 0]), 10)).toEqual([]);
        expect(await store.searchVector("no-such-collection", Float32Array.from([0, 1, 0, 0]), 10)).toEqual([]);

        expect(await store.countOtherDimensions(collectionId, 4)).toBe(2);
        expect(await store.countOtherDimensions(collectionId, 3)).toBe(4);
        expect(await store.countOtherDimensions(collectionId, 8)).toBe(6);
      });

      it("stays inside the collection", async () => {
        const { collectionId } = await newCollection();
        const other = await newCollection();
        const mine = makeDocument(collectionId, ["mine"], { embeddings: [[0, 0, 1, 0]] });
        await store.addDocument(mine);
        await store.addDocument(makeDocument(other.collectionId, ["theirs"], { embeddings: [[0, 0, 1, 0]] }));
        expect(await store.searchVector(collectionId, Float32Array.from([0, 0, 1, 0]), 10)).toEqual([`${mine.documentId}-chunk-0`]);
      });

      it("sees documents added after a search", async () => {
        const { collectionId } = await newCollection();
        const first = makeDocument(collectionId, ["first"], { embeddings: [[1, 0, 0, 0]] });
        await store.addDocument(first);
        expect(await store.searchVector(collectionId, Float32Array.from([0, 0, 0, 1]), 10)).toEqual([`${first.documentId}-chunk-0`]);
        const second = makeDocument(collectionId, ["second"], { embeddings: [[0, 0, 0, 1]] });
        await store.addDocument(second);
        expect(await store.searchVector(collectionId, Float32Array.from([0, 0, 0, 1]), 10)).toEqual([`${second.documentId}-chunk-0`, `${first.documentId}-chunk-0`]);
      });
    });

    describe("another store on the same database", () => {
      it("sees what was stored, and each other's writes at once", async () => {
        const collection = await newCollection({ name: "Shared", metadata: { shared: true } });
        const { collectionId } = collection;
        const document = makeDocument(collectionId, ["Passwords rotate every ninety days."], { embeddings: [[0, 1, 0, 0]] });
        const stored = await store.addDocument(document);

        const reopened = await backend.open();
        await reopened.setup();
        expect(await reopened.getCollection(collectionId)).toEqual({ ...collection, documentCount: 1, chunkCount: 1 });
        expect(await reopened.getDocument(collectionId, document.documentId)).toEqual(stored);
        expect(await reopened.searchText(collectionId, "password rotation", 10)).toEqual([`${document.documentId}-chunk-0`]);
        expect(await reopened.searchVector(collectionId, Float32Array.from([0, 1, 0, 0]), 10)).toEqual([`${document.documentId}-chunk-0`]);

        // Both have searched; a write through one must reach the other's next search.
        expect(await store.searchVector(collectionId, Float32Array.from([0, 1, 0, 0]), 10)).toEqual([`${document.documentId}-chunk-0`]);
        const added = makeDocument(collectionId, ["Badges are renewed yearly."], { embeddings: [[0, 1, 0.1, 0]] });
        await reopened.addDocument(added);
        expect(await store.searchVector(collectionId, Float32Array.from([0, 1, 0.1, 0]), 10)).toEqual([`${added.documentId}-chunk-0`, `${document.documentId}-chunk-0`]);
        await reopened.deleteDocument(collectionId, document.documentId);
        expect(await store.searchVector(collectionId, Float32Array.from([0, 1, 0, 0]), 10)).toEqual([`${added.documentId}-chunk-0`]);
        // Deleted and created again under the same id, with as many writes as before (a counter
        // per collection would be back where it was): it must not be mistaken for what was cached.
        await reopened.deleteCollection(collectionId);
        expect(await store.getCollection(collectionId)).toBeNull();
        await reopened.createCollection(makeCollection({ collectionId }));
        const again = [0, 1, 2].map((position) => makeDocument(collectionId, [`Fresh start ${position}.`], { embeddings: [[position, 1, 0, 0]] }));
        for (const document of again) await reopened.addDocument(document);
        expect(await store.searchVector(collectionId, Float32Array.from([0, 1, 0, 0]), 10)).toEqual(again.map((document) => `${document.documentId}-chunk-0`));
        await reopened.deleteCollection(collectionId);
        expect(await store.searchVector(collectionId, Float32Array.from([0, 1, 0, 0]), 10)).toEqual([]);
      });
    });
  });
}

describeDocumentStore("SqliteDocumentStore", async () => {
  const dir = makeTempDir();
  const databases: Database.Database[] = [];
  return {
    async open() {
      const db = new Database(join(dir, "agent.sqlite"));
      db.pragma("journal_mode = WAL");
      databases.push(db);
      return new SqliteDocumentStore(db);
    },
    async dispose() {
      for (const db of databases) db.close();
      removeDir(dir);
    },
  };
});

describe("SqliteDocumentStore writing a large document", () => {
  it("shows its chunks all at once, when it is stored, and not between its batches", async () => {
    const db = new Database(":memory:");
    const store = new SqliteDocumentStore(db);
    await store.setup();
    const { collectionId } = await store.createCollection(makeCollection());
    const document = makeDocument(collectionId, Array.from({ length: 1200 }, (_, index) => `Part ${index} of the lighthouse manual.`));
    const adding = store.addDocument(document);
    // The first batch is written, and the store yields before the next.
    await setImmediate();
    expect((db.prepare("SELECT count(*) AS count FROM rag_chunks").get() as { count: number }).count).toBeGreaterThan(0);
    expect(await store.searchText(collectionId, "lighthouse", 5)).toEqual([]);
    expect(await store.listDocuments(collectionId, { limit: 10, offset: 0 })).toEqual([]);
    expect((await store.getCollection(collectionId))?.chunkCount).toBe(0);
    await adding;
    expect(await store.searchText(collectionId, "lighthouse", 2000)).toHaveLength(1200);
    expect((await store.getCollection(collectionId))?.chunkCount).toBe(1200);
    db.close();
  });
});

describe("SqliteDocumentStore after a crash while writing", () => {
  it("does not search chunks left without their document, and removes them at setup", async () => {
    const db = new Database(":memory:");
    const store = new SqliteDocumentStore(db);
    await store.setup();
    const { collectionId } = await store.createCollection(makeCollection());
    await store.addDocument(makeDocument(collectionId, ["The kept manual."], { embeddings: [[1, 0]] }));
    // What a crash between two batches leaves: chunks whose document row was never written.
    db.prepare("INSERT INTO rag_chunks (chunk_id, document_id, collection_id, position, text, embedding, dimensions) VALUES (?, ?, ?, 0, ?, ?, 2)").run(
      "orphan-chunk",
      "orphan-document",
      collectionId,
      "The orphaned manual.",
      Buffer.from(Float32Array.from([1, 0]).buffer),
    );
    expect(await store.searchText(collectionId, "orphaned", 10)).toEqual([]);
    expect(await store.searchVector(collectionId, Float32Array.from([1, 0]), 10)).toHaveLength(1);
    expect(await store.countOtherDimensions(collectionId, 3)).toBe(1);
    await new SqliteDocumentStore(db).setup();
    expect(db.prepare("SELECT chunk_id FROM rag_chunks").all()).toEqual([{ chunk_id: expect.stringMatching(/chunk-0$/) }]);
    expect(await store.searchText(collectionId, "manual", 10)).toHaveLength(1);
    db.close();
  });
});

if (await postgresReachable()) {
  describeDocumentStore("PostgresDocumentStore", async () => {
    const schema = schemaName();
    const pools: pg.Pool[] = [];
    return {
      async open() {
        // A pool per store, as separate instances of the service would have.
        const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
        pools.push(pool);
        return new PostgresDocumentStore(pool, { schema });
      },
      async dispose() {
        const [first] = pools;
        if (first) await dropSchema(first, schema);
        for (const pool of pools) await pool.end();
      },
    };
  });
} else {
  describe.skip("PostgresDocumentStore (PostgreSQL unreachable)", () => {
    it("runs the contract", () => undefined);
  });
}
