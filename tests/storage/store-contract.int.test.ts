/**
 * The LangGraph Store contract, run against SQLite and (when a server answers) PostgreSQL:
 * get/put/delete (LangGraph's namespace rules as ValidationError), search by namespace prefix
 * with filters ($eq … $nin), full-text query ranking, semantic search with a deterministic
 * embeddings model, TTL (expiry, refresh on read, sweep) on a clock the test moves,
 * listNamespaces (prefix, suffix, wildcards, depth, pages), batch, and two storages on one
 * database. The InMemoryStore cases of langgraphjs (libs/checkpoint/src/tests/store.test.ts)
 * are here too, as our store answers them.
 */
import { Embeddings } from "@langchain/core/embeddings";
import { Annotation, type LangGraphRunnableConfig, StateGraph } from "@langchain/langgraph";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import type { PostgresDatabase } from "../../src/storage/postgres/database.js";
import { PostgresStore } from "../../src/storage/postgres/store.js";
import type { SqliteDatabase } from "../../src/storage/sqlite/database.js";
import { SqliteStore } from "../../src/storage/sqlite/store.js";
import type { Storage } from "../../src/storage/storage.js";
import type { StoreOptions } from "../../src/storage/store.js";
import { type StorageBackend, storageBackends } from "../support/storage-backends.js";

/** A clock the test moves by hand. */
class ManualClock {
  #now = Date.parse("2030-01-01T00:00:00Z");
  now = () => new Date(this.#now);
  advanceMinutes(minutes: number) {
    this.#now += minutes * 60_000;
  }
}

/** Words mapped onto topics, one dimension each: texts about the same topic embed alike, whatever their words. */
const TOPICS: Record<string, number> = { kitten: 0, cat: 0, feline: 0, pets: 0, dog: 0, pasta: 1, pizza: 1, food: 1, cooking: 1, typescript: 2, code: 2, programming: 2, rain: 3, weather: 3, sunny: 3 };

/** Deterministic embeddings: each text a count of its topic words (plus a constant dimension, so no vector is zero). */
class TopicEmbeddings extends Embeddings {
  readonly embedded: string[] = [];
  constructor() {
    super({});
  }
  #embed(text: string): number[] {
    const vector = [0, 0, 0, 0, 0.1];
    for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
      const topic = TOPICS[word];
      if (topic !== undefined) vector[topic] = (vector[topic] as number) + 1;
    }
    return vector;
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    this.embedded.push(...texts);
    return texts.map((text) => this.#embed(text));
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.#embed(text);
  }
}

/** Another store on the database of `storage`, with options (a clock, embeddings). */
function storeBeside(storage: Storage, options: StoreOptions) {
  const { database } = storage.checkpointer as unknown as { database: SqliteDatabase | PostgresDatabase };
  return database.backend === "sqlite" ? new SqliteStore(database, options) : new PostgresStore(database, options);
}

describe.each(storageBackends)("%s store", (_name, createBackend) => {
  let backend: StorageBackend;
  let storage: Storage;
  beforeAll(async () => {
    backend = createBackend();
    storage = await backend.open();
  });
  afterAll(() => backend?.dispose());

  /** A root label no other test uses, so tests share the database without seeing each other's items. */
  const newRoot = () => `test-${randomUUID()}`;

  it("puts, gets, updates and deletes items; setup is idempotent", async () => {
    const store = storage.store;
    await store.setup();
    const root = newRoot();
    expect(await store.get([root, "a"], "missing")).toBeNull();
    await store.put([root, "a"], "one", { name: "Ada", tags: ["x"] });
    const created = await store.get([root, "a"], "one");
    expect(created).toEqual({ namespace: [root, "a"], key: "one", value: { name: "Ada", tags: ["x"] }, createdAt: expect.any(Date), updatedAt: expect.any(Date) });
    await store.put([root, "a"], "one", { name: "Grace" });
    const updated = await store.get([root, "a"], "one");
    expect(updated?.value).toEqual({ name: "Grace" });
    expect(updated?.createdAt).toEqual(created?.createdAt);
    expect(updated!.updatedAt.getTime()).toBeGreaterThan(created!.updatedAt.getTime());
    await store.delete([root, "a"], "one");
    expect(await store.get([root, "a"], "one")).toBeNull();
    await store.delete([root, "a"], "one");
    // A namespace and its parent are different namespaces.
    await store.put([root], "one", { level: 1 });
    expect(await store.get([root, "a"], "one")).toBeNull();
  });

  it("refuses what LangGraph refuses, as ValidationError, and stores nothing", async () => {
    const store = storage.store;
    const root = newRoot();
    const refused = [
      store.put([], "key", { a: 1 }),
      store.put([root, "with.dot"], "key", { a: 1 }),
      store.put([root, ""], "key", { a: 1 }),
      store.put(["langgraph", root], "key", { a: 1 }),
      store.put([root], "key", ["not", "an", "object"] as unknown as Record<string, unknown>),
      store.put([root], "key", "text" as unknown as Record<string, unknown>),
      store.put([root], "", { a: 1 }),
      store.put([root], "key", { a: 1 }, undefined, { ttl: -1 }),
      store.search([root], { filter: { a: { $regex: "x" } } }),
      store.search([root], { filter: { a: { $gt: true } } }),
      store.search([root], { limit: -1 }),
      store.listNamespaces({ prefix: ["a.b"] }),
      store.search([root], { filter: { 'say "hi"': 1 } }),
    ];
    for (const attempt of refused) await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    expect(await store.search([root])).toEqual([]);
  });

  it("follows langgraphjs's InMemoryStore cases: namespace rules, the reserved root through batch", async () => {
    const store = storage.store;
    const root = newRoot();
    const doc = { foo: "bar" };
    await store.put([root, "langgraph", "foo"], "bar", doc);
    expect((await store.get([root, "langgraph", "foo"], "bar"))?.value).toEqual(doc);
    expect((await store.search([root, "langgraph", "foo"]))[0]?.value).toEqual(doc);
    await store.delete([root, "langgraph", "foo"], "bar");
    expect(await store.get([root, "langgraph", "foo"], "bar")).toBeNull();
    // batch() writes where put() refuses, and reads find it, as LangGraph's stores do.
    await store.batch([{ namespace: ["langgraph", root], key: "bar", value: doc }]);
    expect((await store.get(["langgraph", root], "bar"))?.value).toEqual(doc);
    expect((await store.search(["langgraph", root]))[0]?.value).toEqual(doc);
    await store.delete(["langgraph", root], "bar");
    expect(await store.get(["langgraph", root], "bar")).toBeNull();
  });

  it("searches a namespace prefix by whole labels, newest first, in pages", async () => {
    const store = storage.store;
    const root = newRoot();
    await store.put([root, "users", "ada"], "1", { n: 1 });
    await store.put([root, "users", "ada", "notes"], "2", { n: 2 });
    await store.put([root, "users", "adam"], "3", { n: 3 });
    await store.put([root, "users"], "4", { n: 4 });
    const keys = async (prefix: string[], options: { limit?: number; offset?: number } = {}) => (await store.search(prefix, options)).map((item) => item.key);
    expect(await keys([root, "users", "ada"])).toEqual(["2", "1"]);
    expect(await keys([root, "users"])).toEqual(["4", "3", "2", "1"]);
    expect(await keys([root, "users"], { limit: 2, offset: 1 })).toEqual(["3", "2"]);
    expect(await keys([root, "nobody"])).toEqual([]);
    // Updating an item makes it the newest.
    await store.put([root, "users", "ada"], "1", { n: 10 });
    expect(await keys([root, "users"], { limit: 1 })).toEqual(["1"]);
    const [item] = await store.search([root, "users", "ada", "notes"]);
    expect(item).toEqual({ namespace: [root, "users", "ada", "notes"], key: "2", value: { n: 2 }, createdAt: expect.any(Date), updatedAt: expect.any(Date) });
  });

  it("filters on values: equality as JSON and LangGraph's operators", async () => {
    const store = storage.store;
    const root = newRoot();
    const put = (key: string, value: Record<string, unknown>) => store.put([root], key, value);
    await put("a", { color: "red", score: 5, size: "m", nested: { x: 1, y: [1, 2] }, flag: true });
    await put("b", { color: "blue", score: 3.5, size: "s", nested: { x: 2 } });
    await put("c", { color: "red", score: "5", size: "l" });
    await put("d", { score: 10 });
    const keys = async (filter: Record<string, unknown>) => (await store.search([root], { filter, limit: 100 })).map((item) => item.key).sort();
    expect(await keys({ color: "red" })).toEqual(["a", "c"]);
    expect(await keys({ score: 5 })).toEqual(["a"]);
    expect(await keys({ score: "5" })).toEqual(["c"]);
    expect(await keys({ nested: { y: [1, 2], x: 1 } })).toEqual(["a"]);
    expect(await keys({ flag: true })).toEqual(["a"]);
    expect(await keys({ color: { $eq: "blue" } })).toEqual(["b"]);
    expect(await keys({ color: { $ne: "red" } })).toEqual(["b", "d"]);
    expect(await keys({ score: { $gt: 3.5 } })).toEqual(["a", "d"]);
    expect(await keys({ score: { $gte: 3.5 } })).toEqual(["a", "b", "d"]);
    expect(await keys({ score: { $lt: 5 } })).toEqual(["b"]);
    expect(await keys({ score: { $lte: 5 } })).toEqual(["a", "b"]);
    expect(await keys({ score: { $gte: 4, $lt: 10 } })).toEqual(["a"]);
    expect(await keys({ size: { $gt: "l" } })).toEqual(["a", "b"]);
    expect(await keys({ color: { $in: ["blue", "green"] } })).toEqual(["b"]);
    expect(await keys({ color: { $nin: ["blue"] } })).toEqual(["a", "c", "d"]);
    expect(await keys({ color: "red", score: { $gte: 5 } })).toEqual(["a"]);
    expect(await keys({ missing: "x" })).toEqual([]);
  });

  it("ranks a text query by relevance, with scores, only among matches and what the filter leaves", async () => {
    const store = storage.store;
    const root = newRoot();
    await store.put([root, "memories"], "running", { text: "The user runs every morning and loves running marathons", kind: "habit" });
    await store.put([root, "memories"], "tea", { text: "The user prefers green tea", kind: "preference" });
    await store.put([root, "memories"], "jog", { text: "Went for a run today", kind: "event" });
    await store.put([root, "other"], "running-elsewhere", { text: "running running running" });
    const results = await store.search([root, "memories"], { query: "running" });
    // Stemmed: "runs", "running" and "run" are one word; more of it ranks higher.
    expect(results.map((item) => item.key)).toEqual(["running", "jog"]);
    expect(results.every((item) => typeof item.score === "number")).toBe(true);
    for (let index = 1; index < results.length; index += 1) expect(results[index - 1]!.score!).toBeGreaterThanOrEqual(results[index]!.score!);
    expect((await store.search([root, "memories"], { query: "green tea" })).map((item) => item.key)).toEqual(["tea"]);
    expect(await store.search([root, "memories"], { query: "running", filter: { kind: "preference" } })).toEqual([]);
    expect(await store.search([root, "memories"], { query: "astronomy" })).toEqual([]);
    // A namespace with no items finds nothing, however well other namespaces match.
    expect(await store.search([root, "nobody"], { query: "running" })).toEqual([]);
    // Words too common to rank by match nothing on either backend.
    expect(await store.search([root, "memories"], { query: "the and of?" })).toEqual([]);
    // Nested strings and numbers are searched too; keys and punctuation are not words to match.
    await store.put([root, "memories"], "nested", { facts: [{ about: "Kyoto trip" }], year: 2031 });
    expect((await store.search([root], { query: "kyoto 2031" })).map((item) => item.key)).toEqual(["nested"]);
    expect((await store.search([root], { query: "facts" })).map((item) => item.key)).toEqual([]);
  });

  it("ranks by meaning with an embeddings model: fields, per-item index, re-embedding on update", async () => {
    const embeddings = new TopicEmbeddings();
    const store = storeBeside(storage, { index: { embeddings, dims: 5, fields: ["text"] } });
    const root = newRoot();
    await store.put([root], "cat", { text: "My kitten sleeps all day", note: "pasta" });
    await store.put([root], "food", { text: "I like pasta" });
    await store.put([root], "code", { text: "Writing TypeScript code" });
    await store.put([root], "unindexed", { text: "feline feline" }, false);
    expect(embeddings.embedded).not.toContain("feline feline");
    const results = await store.search([root], { query: "feline pets" });
    expect(results.map((item) => item.key)).toEqual(["cat", "food", "code", "unindexed"]);
    // Cosine similarity of [2, 0, 0, 0, 0.1] and [1, 0, 0, 0, 0.1].
    expect(results[0]?.score).toBeCloseTo(2.01 / (Math.sqrt(4.01) * Math.sqrt(1.01)), 5);
    expect(results[3]?.score).toBeUndefined();
    // Another field list per item: the note is what is embedded for this one.
    await store.put([root], "note", { text: "nothing here", note: "sunny weather" }, ["note"]);
    expect((await store.search([root], { query: "rain", limit: 1 }))[0]?.key).toBe("note");
    // An update embeds the new value; the old embedding no longer ranks the item.
    await store.put([root], "cat", { text: "pizza night" });
    expect((await store.search([root], { query: "kitten", limit: 10 })).find((item) => item.key === "cat")?.score).toBeLessThan(0.5);
    expect((await store.search([root], { query: "food", filter: { text: "pizza night" } }))[0]?.key).toBe("cat");
    // Another instance's update is seen by this one's next search (PostgreSQL caches embeddings per instance).
    await storeBeside(storage, { index: { embeddings, dims: 5, fields: ["text"] } }).put([root], "code", { text: "kitten kitten cat" });
    expect((await store.search([root], { query: "kitten", limit: 1 }))[0]?.key).toBe("code");
    // A failing model for the query: full-text answers.
    const failures: unknown[] = [];
    const failing = storeBeside(storage, {
      index: { embeddings: Object.assign(new TopicEmbeddings(), { embedQuery: () => Promise.reject(new Error("down")) }), onSearchFallback: (error) => failures.push(error) },
    });
    expect((await failing.search([root], { query: "sunny" })).map((item) => item.key)).toEqual(["note"]);
    expect(failures).toHaveLength(1);
  });

  it("expires items after their TTL, extends it on reads that refresh, and sweeps them", async () => {
    const clock = new ManualClock();
    const store = storeBeside(storage, { clock });
    const root = newRoot();
    await store.put([root, "session"], "short", { text: "short lived" }, undefined, { ttl: 1 });
    await store.put([root, "session"], "kept", { text: "kept forever" });
    clock.advanceMinutes(0.5);
    // A read that refreshes: one more minute from now.
    expect(await store.get([root, "session"], "short")).not.toBeNull();
    clock.advanceMinutes(0.75);
    // 1.25 minutes after the put, alive thanks to the refresh; this read does not refresh.
    expect(await store.get([root, "session"], "short", { refreshTtl: false })).not.toBeNull();
    expect((await store.search([root], { query: "short", refreshTtl: false })).map((item) => item.key)).toEqual(["short"]);
    clock.advanceMinutes(0.5);
    expect(await store.get([root, "session"], "short")).toBeNull();
    expect((await store.search([root])).map((item) => item.key)).toEqual(["kept"]);
    expect(await store.search([root], { query: "short" })).toEqual([]);
    // A search refreshes what it returns too.
    await store.put([root, "other"], "searched", { text: "alpha" }, undefined, { ttl: 1 });
    clock.advanceMinutes(0.9);
    expect(await store.search([root, "other"])).toHaveLength(1);
    clock.advanceMinutes(0.9);
    expect(await store.search([root, "other"])).toHaveLength(1);
    clock.advanceMinutes(1.1);
    expect(await store.listNamespaces({ prefix: [root] })).toEqual([[root, "session"]]);
    expect(await store.sweepExpired()).toBeGreaterThanOrEqual(2);
    expect(await store.sweepExpired()).toBe(0);
    // A put over an expired item makes a new one.
    await store.put([root, "session"], "again", { v: 1 }, undefined, { ttl: 1 });
    const first = await store.get([root, "session"], "again");
    clock.advanceMinutes(2);
    await store.put([root, "session"], "again", { v: 2 });
    const second = await store.get([root, "session"], "again");
    expect(second?.createdAt.getTime()).toBeGreaterThan(first!.createdAt.getTime());
    clock.advanceMinutes(60 * 24 * 365);
    expect((await store.get([root, "session"], "again"))?.value).toEqual({ v: 2 });
  });

  it("lists namespaces by prefix, suffix, wildcard and depth, in label order and pages", async () => {
    const store = storage.store;
    const root = newRoot();
    for (const namespace of [
      ["a", "b", "c"],
      ["a", "b", "d"],
      ["a", "c", "e"],
      ["x", "y", "z"],
      ["a", "b", "c", "v1"],
    ])
      await store.put([root, ...namespace], "item", { v: 1 });
    const list = (options: Parameters<typeof store.listNamespaces>[0]) => store.listNamespaces(options);
    expect(await list({ prefix: [root] })).toEqual([
      [root, "a", "b", "c"],
      [root, "a", "b", "c", "v1"],
      [root, "a", "b", "d"],
      [root, "a", "c", "e"],
      [root, "x", "y", "z"],
    ]);
    expect(await list({ prefix: [root, "a", "b"] })).toEqual([
      [root, "a", "b", "c"],
      [root, "a", "b", "c", "v1"],
      [root, "a", "b", "d"],
    ]);
    expect(await list({ prefix: [root], suffix: ["d"] })).toEqual([[root, "a", "b", "d"]]);
    expect(await list({ prefix: [root], suffix: ["c", "v1"] })).toEqual([[root, "a", "b", "c", "v1"]]);
    expect(await list({ prefix: [root, "a", "*", "c"] })).toEqual([[root, "a", "b", "c"], [root, "a", "b", "c", "v1"]]);
    expect(await list({ prefix: [root], suffix: ["*", "z"] })).toEqual([[root, "x", "y", "z"]]);
    expect(await list({ prefix: [root], maxDepth: 3 })).toEqual([
      [root, "a", "b"],
      [root, "a", "c"],
      [root, "x", "y"],
    ]);
    expect(await list({ prefix: [root], suffix: ["c"], maxDepth: 3 })).toEqual([[root, "a", "b"]]);
    expect(await list({ prefix: [root], limit: 2, offset: 1 })).toEqual([
      [root, "a", "b", "c", "v1"],
      [root, "a", "b", "d"],
    ]);
    expect(await list({ prefix: [root, "non", "existent"] })).toEqual([]);
    await store.delete([root, "x", "y", "z"], "item");
    expect(await list({ prefix: [root, "x"] })).toEqual([]);
  });

  it("runs a batch in order, each result in place, deleting with a null value", async () => {
    const store = storage.store;
    const root = newRoot();
    const results = await store.batch([
      { namespace: [root], key: "a", value: { n: 1 } },
      { namespace: [root], key: "a" },
      { namespace: [root], key: "b", value: { n: 2 } },
      { namespacePrefix: [root], filter: { n: { $gte: 1 } }, limit: 10, offset: 0 },
      { namespace: [root], key: "a", value: null },
      { namespace: [root], key: "a" },
      { matchConditions: [{ matchType: "prefix", path: [root] }], limit: 10, offset: 0 },
    ]);
    expect(results[0]).toBeUndefined();
    expect(results[1]).toMatchObject({ key: "a", value: { n: 1 } });
    expect((results[3] as unknown as Array<{ key: string }>).map((item) => item.key)).toEqual(["b", "a"]);
    expect(results[5]).toBeNull();
    expect(results[6]).toEqual([[root]]);
  });

  it("serves a graph as LangGraph passes a store to its nodes (config.store, batched)", async () => {
    const root = newRoot();
    const State = Annotation.Root({ facts: Annotation<string[]>({ reducer: (_, next) => next, default: () => [] }) });
    const graph = new StateGraph(State)
      .addNode("remember", async (_state, config: LangGraphRunnableConfig) => {
        // Concurrent calls in one step reach the store as one batch.
        await Promise.all([config.store!.put([root, "memories"], "name", { text: "The user's name is Ada" }), config.store!.put([root, "memories"], "tea", { text: "Likes green tea" })]);
        return {};
      })
      .addNode("recall", async (_state, config: LangGraphRunnableConfig) => {
        const [found, name] = await Promise.all([config.store!.search([root, "memories"], { query: "what is my name" }), config.store!.get([root, "memories"], "name")]);
        return { facts: [...found.map((item) => item.value.text as string), `get: ${name?.value.text}`] };
      })
      .addEdge("__start__", "remember")
      .addEdge("remember", "recall")
      .compile({ store: storage.store });
    expect((await graph.invoke({})).facts).toEqual(["The user's name is Ada", "get: The user's name is Ada"]);
    expect((await storage.store.search([root, "memories"])).map((item) => item.key).sort()).toEqual(["name", "tea"]);
  });

  it("shares one database between two storages, and concurrent sweeps delete each expired item once", async () => {
    const other = await backend.open();
    const root = newRoot();
    await storage.store.put([root], "shared", { from: "first" });
    expect((await other.store.get([root], "shared"))?.value).toEqual({ from: "first" });
    await other.store.put([root], "shared", { from: "second" });
    expect((await storage.store.search([root], { query: "second" })).map((item) => item.value)).toEqual([{ from: "second" }]);

    const clock = new ManualClock();
    const first = storeBeside(storage, { clock });
    const second = storeBeside(other, { clock });
    await Promise.all(Array.from({ length: 20 }, (_, index) => (index % 2 ? first : second).put([root, "ttl"], `item-${index}`, { index }, undefined, { ttl: 1 })));
    expect(await first.search([root, "ttl"], { limit: 100, refreshTtl: false })).toHaveLength(20);
    // Everything else this suite left expires much later or never, so the counts are this test's.
    clock.advanceMinutes(2);
    const swept = await Promise.all([first.sweepExpired(), second.sweepExpired(), first.sweepExpired()]);
    expect(swept.reduce((sum, count) => sum + count, 0)).toBe(20);
    expect(await second.search([root, "ttl"])).toEqual([]);
  });
});
