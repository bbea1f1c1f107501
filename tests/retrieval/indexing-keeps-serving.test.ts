/**
 * Indexing a large text upload (issue 16, finding 5) held up every other request for seconds: the
 * splitters run synchronously underneath, and on SQLite the chunks went in as one transaction. Now
 * long texts are split in a worker process and SQLite writes chunks in short batches with the
 * event loop running between them; the upload stays all or nothing. On SQLite and PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewDocument } from "../../src/storage/document-store.js";
import { type Backend, type TestServer, startServer, testBackends } from "../support/server.js";

const backends = await testBackends();

/**
 * About 3 MB of words without a line break (the splitters' slowest case: they fall through to
 * cutting at spaces), with one rare word in the middle to search for afterwards.
 */
function largeText(): string {
  const half = "the customer may return the order within thirty days of delivery ".repeat(22_000);
  return `${half} an okapi was delivered by mistake ${half}`;
}

/** Calls `onCall` each time `object[method]` is called, then the method itself; `restore()` undoes it. */
function onCall<T extends object, K extends keyof T>(object: T, method: K, onCall: () => void): { restore(): void } {
  const original = object[method] as (...parameters: unknown[]) => unknown;
  object[method] = function (this: unknown, ...parameters: unknown[]) {
    onCall();
    return original.apply(this, parameters);
  } as T[K];
  return { restore: () => void (object[method] = original as T[K]) };
}

describe.each(backends)("a large text upload being indexed (%s)", (backend: Backend) => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startServer(undefined, { backend, env: { DOCUMENT_MAX_BYTES: "5000000" } });
  });
  afterEach(() => server.close());

  it("leaves /ok and thread reads answered while it is split and while it is stored, and is searchable after", async () => {
    const { collection_id } = (await server.request("/collections", { body: { name: "Orders" } })).body as { collection_id: string };
    const thread = (await server.request("/threads", { body: { metadata: { topic: "returns" } } })).body as { thread_id: string };
    const order: string[] = [];
    const probes: Array<Promise<void>> = [];
    /** /ok and a thread read, sent now; each says in `order` when its answer came. */
    const probe = (label: string) => {
      probes.push(
        server.request("/ok").then((response) => {
          expect(response.status).toBe(200);
          order.push(`${label}: ok`);
        }),
        server.request(`/threads/${thread.thread_id}`).then((response) => {
          expect(response.body).toMatchObject({ thread_id: thread.thread_id, metadata: { topic: "returns" } });
          order.push(`${label}: thread`);
        }),
      );
    };
    const documents = server.deps.documents;
    // When the index takes the text (it splits it first), and when the store takes the chunks.
    const splitting = onCall(documents, "addDocument", () => probe("splitting"));
    const store = documents.store;
    const addDocument = store.addDocument.bind(store);
    store.addDocument = async (document: NewDocument) => {
      order.push("stored: start");
      probe("storing");
      try {
        return await addDocument(document);
      } finally {
        order.push("stored: end");
      }
    };

    const response = await server.request(`/collections/${collection_id}/documents`, { body: { source: "orders.txt", content: largeText() } });
    splitting.restore();
    store.addDocument = addDocument;
    await Promise.all(probes);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect((response.body as { chunk_count: number }).chunk_count).toBeGreaterThan(1000);

    // Both answered before the splitting was done (the store was called after), and again
    // before the chunks were all stored.
    const at = (entry: string) => order.indexOf(entry);
    for (const request of ["ok", "thread"]) {
      expect(at(`splitting: ${request}`), order.join(", ")).toBeGreaterThanOrEqual(0);
      expect(at(`splitting: ${request}`), order.join(", ")).toBeLessThan(at("stored: start"));
      expect(at(`storing: ${request}`), order.join(", ")).toBeGreaterThan(at("stored: start"));
      expect(at(`storing: ${request}`), order.join(", ")).toBeLessThan(at("stored: end"));
    }

    const found = (await server.request(`/collections/${collection_id}/search`, { body: { query: "okapi", k: 3 } })).body as { results: Array<{ text: string }> };
    expect(found.results[0]?.text).toContain("an okapi was delivered by mistake");
  });
});
