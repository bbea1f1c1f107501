/**
 * The thread repository contract, run against SQLite and (when a server answers) PostgreSQL:
 * create (a taken id is refused), get (scoped by owner), update (metadata merged, a null value
 * deleting its key, status), delete (with the thread's runs), search and count (owner, metadata
 * compared as JSON values, status, ids; every sort field both ways, stable within a
 * millisecond; pages), and copying a thread at rest as POST /threads/{id}/copy does; the values
 * projection (recorded, searched by jsonb containment, backfilled) and the TTL (kept, reset by
 * updates, expired threads deleted once across instances, never one a run holds).
 */
import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent } from "../../src/graph/agent.js";
import type { Run } from "../../src/storage/runs.js";
import type { Storage } from "../../src/storage/storage.js";
import type { Thread, ThreadSearch, ThreadSortField } from "../../src/storage/threads.js";
import { type StorageBackend, postgresAvailable, storageBackends } from "../support/storage-backends.js";

/** A pending run on `threadId`, as the server admits one. */
const makeRun = (threadId: string, overrides: Partial<Omit<Run, "updatedAt">> = {}): Omit<Run, "updatedAt"> => ({
  runId: `run-${randomUUID()}`,
  threadId,
  instanceId: "instance-a",
  assistantId: "agent",
  status: "pending",
  metadata: {},
  kwargs: {},
  multitaskStrategy: "enqueue",
  createdAt: new Date(),
  ...overrides,
});

const ids = (threads: Thread[]) => threads.map((thread) => thread.threadId);

describe.each(storageBackends)("%s thread repository", (_name, createBackend) => {
  let backend: StorageBackend;
  let storage: Storage;
  beforeAll(async () => {
    backend = createBackend();
    storage = await backend.open();
  });
  afterAll(() => backend?.dispose());

  /** A thread id no other test uses. */
  const newId = (label = "thread") => `${label}-${randomUUID()}`;
  const create = async (metadata: Record<string, unknown> = {}, options: { threadId?: string; owner?: string } = {}) => {
    const thread = await storage.threads.createThread({ threadId: options.threadId ?? newId(), metadata, owner: options.owner });
    if (!thread) throw new Error("thread id taken");
    return thread;
  };
  /** Search with defaults, as the route fills them in. */
  const search = (filter: Partial<ThreadSearch>) =>
    storage.threads.searchThreads({ limit: 100, offset: 0, sortBy: "created_at", sortOrder: "asc", ...filter });

  it("sets up idempotently, also from several storages at once", async () => {
    await storage.setup();
    await Promise.all([backend.open(), backend.open()]);
    const thread = await create({ kept: true });
    expect(await (await backend.open()).threads.getThread(thread.threadId)).toEqual(thread);
  });

  describe("create and get", () => {
    it("creates an idle thread with its metadata, and reads it back as created", async () => {
      const threadId = newId();
      const created = await storage.threads.createThread({ threadId, metadata: { topic: "billing", nested: { level: 2, tags: ["a", "b"] } } });
      expect(created).toEqual({
        threadId,
        owner: null,
        metadata: { topic: "billing", nested: { level: 2, tags: ["a", "b"] } },
        status: "idle",
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
        ttlMinutes: null,
      });
      expect(created!.updatedAt.getTime()).toBe(created!.createdAt.getTime());
      expect(Math.abs(created!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
      expect(await storage.threads.getThread(threadId)).toEqual(created);
    });

    it("refuses a taken id, on any instance, and leaves the first thread as it was", async () => {
      const first = await create({ version: 1 }, { owner: "alice" });
      const other = await backend.open();
      expect(await storage.threads.createThread({ threadId: first.threadId, metadata: { version: 2 } })).toBeNull();
      expect(await other.threads.createThread({ threadId: first.threadId, metadata: { version: 3 }, owner: "bob" })).toBeNull();
      expect(await other.threads.getThread(first.threadId)).toEqual(first);
    });

    it("returns null for an unknown thread", async () => {
      expect(await storage.threads.getThread(newId("unknown"))).toBeNull();
      expect(await storage.threads.getThread(newId("unknown"), "alice")).toBeNull();
    });

    it("says whether a thread exists, until it is deleted", async () => {
      const thread = (await storage.threads.createThread({ threadId: newId("exists"), metadata: {} }))!;
      expect(await storage.threads.threadExists(thread.threadId)).toBe(true);
      expect(await storage.threads.threadExists(newId("unknown"))).toBe(false);
      await storage.threads.deleteThread(thread.threadId);
      expect(await storage.threads.threadExists(thread.threadId)).toBe(false);
    });

    it("scopes get by owner: another owner's thread, and a thread of nobody, are not found", async () => {
      const alices = await create({}, { owner: "alice" });
      const nobodys = await create();
      expect(await storage.threads.getThread(alices.threadId, "alice")).toEqual(alices);
      expect(alices.owner).toBe("alice");
      expect(await storage.threads.getThread(alices.threadId, "bob")).toBeNull();
      expect(await storage.threads.getThread(nobodys.threadId, "alice")).toBeNull();
      // Without an owner (authentication off) every thread is visible.
      expect(await storage.threads.getThread(alices.threadId)).toEqual(alices);
      expect(await storage.threads.getThread(nobodys.threadId)).toEqual(nobodys);
    });
  });

  describe("update", () => {
    it("merges metadata key by key; a null value deletes its key; a nested value is replaced whole", async () => {
      const thread = await create({ keep: "me", drop: 1, nested: { a: 1, b: 2 } });
      const updated = await storage.threads.updateThread(thread.threadId, { metadata: { drop: null, added: [1, 2], nested: { c: 3 } } });
      expect(updated?.metadata).toEqual({ keep: "me", added: [1, 2], nested: { c: 3 } });
      expect(updated?.status).toBe("idle");
      expect(await storage.threads.getThread(thread.threadId)).toEqual(updated);
      // Deleting a key that is not there changes nothing else.
      expect((await storage.threads.updateThread(thread.threadId, { metadata: { absent: null } }))?.metadata).toEqual({ keep: "me", added: [1, 2], nested: { c: 3 } });
    });

    it("sets the status and keeps the metadata; updatedAt moves on, createdAt stays", async () => {
      const thread = await create({ topic: "x" });
      const busy = await storage.threads.updateThread(thread.threadId, { status: "busy" });
      expect(busy).toMatchObject({ status: "busy", metadata: { topic: "x" }, createdAt: thread.createdAt });
      expect(busy!.updatedAt.getTime()).toBeGreaterThan(thread.updatedAt.getTime());
      const both = await storage.threads.updateThread(thread.threadId, { status: "interrupted", metadata: { topic: "y" } });
      expect(both).toMatchObject({ status: "interrupted", metadata: { topic: "y" } });
      expect(both!.updatedAt.getTime()).toBeGreaterThan(busy!.updatedAt.getTime());
      expect(await storage.threads.getThread(thread.threadId)).toEqual(both);
    });

    it("sets a metadata key only where it is missing or null, leaving updatedAt and the other keys", async () => {
      const thread = await create({ keep: 1, empty: null });
      expect(await storage.threads.setMetadataIfAbsent(thread.threadId, "title", "Generated")).toBe(true);
      expect(await storage.threads.setMetadataIfAbsent(thread.threadId, "empty", { nested: ["x"] })).toBe(true);
      // Set meanwhile (a user renaming the chat): never overwritten.
      expect(await storage.threads.setMetadataIfAbsent(thread.threadId, "title", "Second")).toBe(false);
      expect(await storage.threads.setMetadataIfAbsent(thread.threadId, "keep", 2)).toBe(false);
      expect(await storage.threads.setMetadataIfAbsent(newId("unknown"), "title", "x")).toBe(false);
      const after = await storage.threads.getThread(thread.threadId);
      expect(after?.metadata).toEqual({ keep: 1, empty: { nested: ["x"] }, title: "Generated" });
      expect(after?.updatedAt).toEqual(thread.updatedAt);
      // A key with dots and quotes is one key.
      expect(await storage.threads.setMetadataIfAbsent(thread.threadId, 'a."b', true)).toBe(true);
      expect((await storage.threads.getThread(thread.threadId))?.metadata['a."b']).toBe(true);
    });

    it("returns null for an unknown thread and creates nothing", async () => {
      const threadId = newId("unknown");
      expect(await storage.threads.updateThread(threadId, { metadata: { a: 1 }, status: "busy" })).toBeNull();
      expect(await storage.threads.updateThread(threadId, { status: "busy" })).toBeNull();
      expect(await storage.threads.updateThread(threadId, { metadata: {}, ttlMinutes: 5 })).toBeNull();
      expect(await storage.threads.getThread(threadId)).toBeNull();
    });
  });

  describe("delete", () => {
    it("deletes the thread and nothing else; a second delete finds nothing", async () => {
      const gone = await create();
      const kept = await create();
      expect(await storage.threads.deleteThread(gone.threadId)).toBe(true);
      expect(await storage.threads.getThread(gone.threadId)).toBeNull();
      expect(await storage.threads.getThread(kept.threadId)).toEqual(kept);
      expect(await storage.threads.deleteThread(gone.threadId)).toBe(false);
    });

    it("deletes the thread's runs with it, even unfinished ones", async () => {
      const thread = await create();
      const finished = await storage.runs.admitRun(makeRun(thread.threadId, { status: "success" }), { exclusive: false });
      const pending = await storage.runs.admitRun(makeRun(thread.threadId), { exclusive: false });
      if (!("run" in finished) || !("run" in pending)) throw new Error("not admitted");
      expect(await storage.threads.deleteThread(thread.threadId)).toBe(true);
      expect(await storage.runs.getRun(thread.threadId, finished.run.runId)).toBeNull();
      expect(await storage.runs.getRun(thread.threadId, pending.run.runId)).toBeNull();
      expect(await storage.runs.hasActiveRuns(thread.threadId)).toBe(false);
      // A new thread under the same id starts without them.
      await create({}, { threadId: thread.threadId });
      expect(await storage.runs.listRuns(thread.threadId, { limit: 10, offset: 0 })).toEqual([]);
      expect(await storage.runs.admitRun(makeRun(thread.threadId), { exclusive: true })).toMatchObject({ others: [] });
    });
  });

  describe("search and count", () => {
    it("filters by owner; without an owner every thread matches", async () => {
      const tag = randomUUID();
      const alices = await create({ tag }, { owner: "alice" });
      const bobs = await create({ tag }, { owner: "bob" });
      const nobodys = await create({ tag });
      expect(ids(await search({ metadata: { tag }, owner: "alice" }))).toEqual([alices.threadId]);
      expect(ids(await search({ metadata: { tag }, owner: "bob" }))).toEqual([bobs.threadId]);
      expect(ids(await search({ metadata: { tag }, owner: "carol" }))).toEqual([]);
      expect(ids(await search({ metadata: { tag } }))).toEqual([alices.threadId, bobs.threadId, nobodys.threadId]);
      expect(await storage.threads.countThreads({ metadata: { tag }, owner: "alice" })).toBe(1);
      expect(await storage.threads.countThreads({ metadata: { tag } })).toBe(3);
    });

    it("compares metadata as JSON values: numbers, look-alike strings, booleans and null are all different", async () => {
      const tag = randomUUID();
      const values: Record<string, unknown> = {
        one: 1,
        oneString: "1",
        trueValue: true,
        trueString: "true",
        falseValue: false,
        zero: 0,
        object: { a: 1 },
        objectString: '{"a":1}',
        array: [1, 2],
        arrayString: "[1,2]",
        nullValue: null,
      };
      const byName = new Map<string, string>();
      for (const [name, value] of Object.entries(values)) byName.set(name, (await create({ tag, value })).threadId);
      const missing = (await create({ tag })).threadId;
      for (const [name, value] of Object.entries(values)) {
        const expected = name === "nullValue" ? [byName.get(name), missing] : [byName.get(name)];
        const filter = { metadata: { tag, value } };
        expect({ name, found: ids(await search(filter)) }).toEqual({ name, found: expected });
        expect({ name, count: await storage.threads.countThreads(filter) }).toEqual({ name, count: expected.length });
      }
    });

    it("compares nested values whole, whatever the order of their keys, and never by containment", async () => {
      const tag = randomUUID();
      const nested = await create({ tag, deep: { a: 1, b: [1, { c: "x" }], d: { e: null, f: 2.5 } } });
      const shallow = await create({ tag, deep: { a: 1 } });
      const match = (deep: unknown) => search({ metadata: { tag, deep } }).then(ids);
      expect(await match({ d: { f: 2.5, e: null }, b: [1, { c: "x" }], a: 1 })).toEqual([nested.threadId]);
      expect(await match({ a: 1, b: [1, { c: "x" }], d: { e: null, f: 2.5 } })).toEqual([nested.threadId]);
      // A part of the value is not the value; nor is the same array in another order.
      expect(await match({ a: 1, b: [1, { c: "x" }] })).toEqual([]);
      expect(await match({ a: 1 })).toEqual([shallow.threadId]);
      expect(await match({ a: 1, b: [{ c: "x" }, 1], d: { e: null, f: 2.5 } })).toEqual([]);
    });

    it("takes a metadata key literally, dots and quotes included; every key given must match", async () => {
      const tag = randomUUID();
      const dotted = await create({ tag, "a.b": 1, 'say "hi"': "yes" });
      const nested = await create({ tag, a: { b: 1 } });
      expect(ids(await search({ metadata: { tag, "a.b": 1 } }))).toEqual([dotted.threadId]);
      expect(ids(await search({ metadata: { tag, a: { b: 1 } } }))).toEqual([nested.threadId]);
      expect(ids(await search({ metadata: { tag, 'say "hi"': "yes" } }))).toEqual([dotted.threadId]);
      expect(ids(await search({ metadata: { tag, "a.b": 1, 'say "hi"': "no" } }))).toEqual([]);
      expect(await storage.threads.countThreads({ metadata: { tag, "a.b": 1, 'say "hi"': "yes" } })).toBe(1);
    });

    it("filters by status and by ids; an empty id list matches nothing", async () => {
      const tag = randomUUID();
      const idle = await create({ tag });
      const busy = await create({ tag });
      const errored = await create({ tag });
      await storage.threads.updateThread(busy.threadId, { status: "busy" });
      await storage.threads.updateThread(errored.threadId, { status: "error" });
      expect(ids(await search({ metadata: { tag }, status: "busy" }))).toEqual([busy.threadId]);
      expect(ids(await search({ metadata: { tag }, status: "idle" }))).toEqual([idle.threadId]);
      expect(ids(await search({ metadata: { tag }, status: "interrupted" }))).toEqual([]);
      expect(ids(await search({ ids: [errored.threadId, idle.threadId, newId("unknown")] }))).toEqual([idle.threadId, errored.threadId]);
      expect(ids(await search({ ids: [errored.threadId, idle.threadId], status: "error" }))).toEqual([errored.threadId]);
      expect(await search({ ids: [] })).toEqual([]);
      expect(await storage.threads.countThreads({ ids: [] })).toBe(0);
      expect(await storage.threads.countThreads({ ids: [busy.threadId, errored.threadId] })).toBe(2);
    });

    it("sorts by each field both ways, ties broken by thread id in the same direction", async () => {
      const tag = randomUUID();
      // Created in this order; ids in byte order "B" < "a" < "c" < "d" (upper case first, as in C).
      const [b, a, d, c] = [`${tag}-B`, `${tag}-a`, `${tag}-d`, `${tag}-c`];
      for (const threadId of [b, a, d, c]) await create({ tag }, { threadId });
      // Updated in another order; statuses with a tie (a and c both busy).
      await storage.threads.updateThread(c, { status: "busy" });
      await storage.threads.updateThread(a, { status: "busy" });
      await storage.threads.updateThread(d, { status: "error" });
      await storage.threads.updateThread(b, { status: "interrupted" });
      const expected: Record<ThreadSortField, string[]> = {
        thread_id: [b, a, c, d],
        created_at: [b, a, d, c],
        updated_at: [c, a, d, b],
        status: [a, c, d, b],
      };
      for (const [sortBy, ascending] of Object.entries(expected) as Array<[ThreadSortField, string[]]>) {
        expect({ sortBy, asc: ids(await search({ metadata: { tag }, sortBy, sortOrder: "asc" })) }).toEqual({ sortBy, asc: ascending });
        expect({ sortBy, desc: ids(await search({ metadata: { tag }, sortBy, sortOrder: "desc" })) }).toEqual({ sortBy, desc: [...ascending].reverse() });
      }
    });

    it("keeps creation order among threads created within one millisecond", async () => {
      const tag = randomUUID();
      // Ids that sort against creation order, so that a tie on the timestamp would show.
      const created: string[] = [];
      for (let index = 9; index >= 0; index -= 1) created.push((await create({ tag }, { threadId: `${tag}-${index}` })).threadId);
      expect(ids(await search({ metadata: { tag }, sortBy: "created_at", sortOrder: "asc" }))).toEqual(created);
      expect(ids(await search({ metadata: { tag }, sortBy: "created_at", sortOrder: "desc" }))).toEqual([...created].reverse());
      for (const threadId of [...created].reverse()) await storage.threads.updateThread(threadId, { metadata: { touched: true } });
      expect(ids(await search({ metadata: { tag }, sortBy: "updated_at", sortOrder: "desc" }))).toEqual(created);
    });

    it("pages with limit and offset; count ignores them", async () => {
      const tag = randomUUID();
      const created: string[] = [];
      for (let index = 0; index < 5; index += 1) created.push((await create({ tag })).threadId);
      const page = (offset: number) => search({ metadata: { tag }, limit: 2, offset }).then(ids);
      expect(await page(0)).toEqual(created.slice(0, 2));
      expect(await page(2)).toEqual(created.slice(2, 4));
      expect(await page(4)).toEqual(created.slice(4));
      expect(await page(5)).toEqual([]);
      expect(await storage.threads.countThreads({ metadata: { tag } })).toBe(5);
    });
  });

  describe("values projection", () => {
    /** Threads of this test only: a marker in their values that no other thread has. */
    const marked = async (count: number) => {
      const marker = randomUUID();
      const threads = [];
      for (let index = 0; index < count; index += 1) threads.push(await create());
      return { marker, threads };
    };

    it("matches by containment: nested objects by their keys, arrays by their elements, scalars as JSON values", async () => {
      const { marker, threads } = await marked(4);
      const [a, b, c, d] = threads.map((thread) => thread.threadId) as [string, string, string, string];
      await storage.threads.setThreadValues(a, { marker, windowStart: 2, summary: { text: "refunds", upTo: 4 }, tags: ["x", "y"] });
      await storage.threads.setThreadValues(b, { marker, windowStart: 0, summary: null, tags: ["y"] });
      await storage.threads.setThreadValues(c, { marker, windowStart: "2", flag: true });
      await storage.threads.setThreadValues(d, { marker, windowStart: 1, flag: 1 });
      const found = async (values: Record<string, unknown>) => ids(await search({ values: { marker, ...values } })).sort();
      expect(await found({})).toEqual([a, b, c, d].sort());
      expect(await found({ windowStart: 2 })).toEqual([a]);
      expect(await found({ windowStart: "2" })).toEqual([c]);
      expect(await found({ summary: { upTo: 4 } })).toEqual([a]);
      expect(await found({ summary: { upTo: 4, text: "other" } })).toEqual([]);
      expect(await found({ summary: null })).toEqual([b]);
      expect(await found({ tags: ["y"] })).toEqual([a, b].sort());
      expect(await found({ tags: ["y", "x"] })).toEqual([a]);
      expect(await found({ flag: true })).toEqual([c]);
      expect(await found({ flag: 1 })).toEqual([d]);
      expect(await found({ absent: null })).toEqual([]);
      expect(await storage.threads.countThreads({ values: { marker, tags: ["y"] } })).toBe(2);
    });

    it("combines with the other filters and pages; a new thread's values are {}, a copy's are given", async () => {
      const marker = randomUUID();
      const alices = [await create({ kind: "a" }, { owner: "alice" }), await create({ kind: "b" }, { owner: "alice" }), await create({ kind: "a" }, { owner: "alice" })];
      const bobs = await create({ kind: "a" }, { owner: "bob" });
      for (const thread of [...alices, bobs]) await storage.threads.setThreadValues(thread.threadId, { marker });
      expect(ids(await search({ owner: "alice", values: { marker } }))).toEqual(ids(alices));
      expect(ids(await search({ owner: "alice", metadata: { kind: "a" }, values: { marker } }))).toEqual([alices[0]!.threadId, alices[2]!.threadId]);
      expect(ids(await search({ owner: "alice", values: { marker }, limit: 2, offset: 1 }))).toEqual([alices[1]!.threadId, alices[2]!.threadId]);
      const fresh = await create();
      expect(ids(await search({ ids: [fresh.threadId], values: {} }))).toEqual([fresh.threadId]);
      expect(ids(await search({ ids: [fresh.threadId], values: { marker } }))).toEqual([]);
      const copy = await storage.threads.createThread({ threadId: newId("copy"), metadata: {}, values: { marker, copied: true } });
      expect(ids(await search({ values: { marker, copied: true } }))).toEqual([copy!.threadId]);
    });

    it("counts as an update, replacing the whole projection; a backfill fills only threads without one and leaves updatedAt", async () => {
      const thread = await create();
      expect(await storage.threads.setThreadValues(thread.threadId, { step: 1, old: true })).toBe(true);
      const updated = await storage.threads.getThread(thread.threadId);
      expect(updated!.updatedAt.getTime()).toBeGreaterThan(thread.updatedAt.getTime());
      await storage.threads.setThreadValues(thread.threadId, { step: 2 });
      expect(ids(await search({ ids: [thread.threadId], values: { old: true } }))).toEqual([]);
      expect(ids(await search({ ids: [thread.threadId], values: { step: 2 } }))).toEqual([thread.threadId]);
      // It has one: a backfill does not overwrite it.
      expect(await storage.threads.setThreadValues(thread.threadId, { step: 0 }, { onlyIfMissing: true })).toBe(false);
      expect(ids(await search({ ids: [thread.threadId], values: { step: 2 } }))).toEqual([thread.threadId]);
      expect(await storage.threads.threadsWithoutValues(1000)).not.toContain(thread.threadId);
      expect(await storage.threads.setThreadValues(newId("unknown"), { step: 1 })).toBe(false);
    });

    it("is recorded with a run's settled status, in one statement; also while a run holds the thread, whose status stays", async () => {
      const thread = await create();
      await storage.runs.settleThreadStatus(thread.threadId, "interrupted", { settled: 1 });
      expect(await storage.threads.getThread(thread.threadId)).toMatchObject({ status: "interrupted" });
      expect(ids(await search({ ids: [thread.threadId], values: { settled: 1 } }))).toEqual([thread.threadId]);
      await storage.threads.updateThread(thread.threadId, { status: "busy" });
      const admitted = await storage.runs.admitRun(makeRun(thread.threadId), { exclusive: true });
      if (!("run" in admitted)) throw new Error("not admitted");
      await storage.runs.settleThreadStatus(thread.threadId, "idle", { settled: 2 });
      const held = (await storage.threads.getThread(thread.threadId))!;
      expect(held.status).toBe("busy");
      expect(ids(await search({ ids: [thread.threadId], values: { settled: 2 } }))).toEqual([thread.threadId]);
      // Without values, a held thread is left as it was.
      await storage.runs.settleThreadStatus(thread.threadId, "idle");
      expect(await storage.threads.getThread(thread.threadId)).toEqual(held);
      await storage.runs.setRunStatus(admitted.run.runId, "success");
      await storage.runs.settleThreadStatus(thread.threadId, "idle");
      expect(await storage.threads.getThread(thread.threadId)).toMatchObject({ status: "idle" });
      expect(ids(await search({ ids: [thread.threadId], values: { settled: 2 } }))).toEqual([thread.threadId]);
    });
  });

  describe("search by text", () => {
    const config = (threadId: string) => ({ configurable: { thread_id: threadId } });
    /** A word no other test's threads hold. */
    const marker = () => `zq${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    /** A thread with one turn of the agent: `user` asked, the model answered `reply`. */
    const talked = async (user: string, reply: string, options: { owner?: string; metadata?: Record<string, unknown> } = {}) => {
      const thread = await create(options.metadata, { owner: options.owner });
      const agent = createAgent({ model: new FakeListChatModel({ responses: [reply] }), checkpointer: storage.checkpointer });
      await agent.invoke({ messages: [new HumanMessage(user)] }, config(thread.threadId));
      return thread;
    };
    const found = (text: string, filter: Partial<ThreadSearch> = {}) => search({ text, ...filter }).then(ids);

    it("matches the user's words, the assistant's and the title, ignoring case (Unicode too); tool and system text are not searched", async () => {
      const word = marker();
      const user = await talked(`Plan a trip to ${word.toUpperCase()} Lisbon`, "Gladly.");
      const assistant = await talked("Where should I study?", `The ÉCOLE ${word} in Lyon.`);
      const titled = await create({ title: `Été ${word} Holidays` });
      const hidden = marker();
      const tools = await create();
      const agent = createAgent({ model: new FakeListChatModel({ responses: ["unused"] }), checkpointer: storage.checkpointer });
      await agent.updateState(config(tools.threadId), {
        messages: [
          new SystemMessage(`System says ${hidden}`),
          new HumanMessage("Look it up"),
          new AIMessage({ content: "", tool_calls: [{ id: "call-1", name: "search_documents", args: { query: hidden } }] }),
          new ToolMessage({ content: `Passage about ${hidden}`, tool_call_id: "call-1" }),
        ],
      }, "model");

      expect(await found(`${word} lisbon`)).toEqual([user.threadId]);
      expect(await found(`école ${word.toUpperCase()}`)).toEqual([assistant.threadId]);
      expect(await found(`ÉTÉ ${word} holidays`)).toEqual([titled.threadId]);
      expect(await found(word)).toEqual([user.threadId, assistant.threadId, titled.threadId]);
      expect(await found(hidden)).toEqual([]);
      expect(await found("look it up", { ids: [tools.threadId] })).toEqual([tools.threadId]);
      expect(await storage.threads.countThreads({ text: word })).toBe(3);
      // A blank text is no filter.
      expect(await found("   ", { ids: [tools.threadId] })).toEqual([tools.threadId]);
    });

    it("takes the text literally (no pattern characters), and combines with the owner, the other filters, the order and the page", async () => {
      const word = marker();
      const threads = [
        await talked(`50%_off ${word}`, "ok", { owner: "alice", metadata: { kind: "a" } }),
        await talked(`500 off ${word}`, "ok", { owner: "alice", metadata: { kind: "b" } }),
        await talked(`more ${word}`, "ok", { owner: "alice", metadata: { kind: "a" } }),
        await talked(`bob's ${word}`, "ok", { owner: "bob", metadata: { kind: "a" } }),
      ].map((thread) => thread.threadId);
      expect(await found(`50%_off ${word}`)).toEqual([threads[0]]);
      expect(await found(`5_0 off ${word}`)).toEqual([]);
      expect(await found(word, { owner: "alice" })).toEqual(threads.slice(0, 3));
      expect(await found(word, { owner: "alice", sortOrder: "desc" })).toEqual(threads.slice(0, 3).reverse());
      expect(await found(word, { owner: "alice", limit: 1, offset: 1 })).toEqual([threads[1]]);
      expect(await found(word, { metadata: { kind: "a" } })).toEqual([threads[0], threads[2], threads[3]]);
      expect(await storage.threads.countThreads({ owner: "alice", text: word })).toBe(3);
      expect(await storage.threads.countThreads({ owner: "bob", text: word })).toBe(1);
    });

    it("forgets what a reverted run or a deleted thread said; a copy says what its source said", async () => {
      const [kept, undone] = [marker(), marker()];
      const thread = await talked(`first ${kept}`, "one");
      const head = await storage.checkpointer.headCheckpointId(thread.threadId);
      const agent = createAgent({ model: new FakeListChatModel({ responses: [`reply ${undone}`] }), checkpointer: storage.checkpointer });
      await agent.invoke({ messages: [new HumanMessage(`second ${undone}`)] }, config(thread.threadId));
      expect(await found(undone)).toEqual([thread.threadId]);
      await storage.checkpointer.revertThread(thread.threadId, head);
      expect(await found(undone)).toEqual([]);
      expect(await found(kept)).toEqual([thread.threadId]);

      const copy = await create();
      await storage.checkpointer.copyThread(thread.threadId, copy.threadId);
      expect(await found(kept)).toEqual([thread.threadId, copy.threadId]);
      await storage.checkpointer.deleteThread(copy.threadId);
      expect(await found(kept)).toEqual([thread.threadId]);
    });

    it("indexes, in the background, the messages of threads stored before the index existed", async () => {
      const word = marker();
      const thread = await talked(`older ${word} question`, `older ${word} answer`);
      // As a thread of an earlier release is after the migration: no text rows, listed as pending.
      if (_name === "sqlite") {
        const db = (storage.checkpointer as unknown as { db: import("better-sqlite3").Database }).db;
        db.prepare("DELETE FROM agent_message_text WHERE thread_id = ?").run(thread.threadId);
        db.prepare("INSERT INTO agent_message_text_pending (thread_id) VALUES (?)").run(thread.threadId);
      } else {
        const { database, schema } = storage.checkpointer as unknown as { database: { query(sql: string, values: unknown[]): Promise<unknown> }; schema: string };
        await database.query(`DELETE FROM ${schema}.agent_message_text WHERE thread_id = $1`, [thread.threadId]);
        await database.query(`INSERT INTO ${schema}.agent_message_text_pending (thread_id) VALUES ($1)`, [thread.threadId]);
      }
      expect(await found(word)).toEqual([]);
      let indexed = 0;
      for (let batch = await storage.checkpointer.indexMessageText(10); batch > 0; batch = await storage.checkpointer.indexMessageText(10)) indexed += batch;
      expect(indexed).toBeGreaterThanOrEqual(1);
      expect(await found(`${word} question`)).toEqual([thread.threadId]);
      expect(await found(`${word} answer`)).toEqual([thread.threadId]);
      // Indexed once: nothing is pending any more, and a turn after it is indexed as it is written.
      expect(await storage.checkpointer.indexMessageText(10)).toBe(0);
    });
  });

  describe("TTL", () => {
    const minutes = (count: number) => count * 60_000;
    const later = (thread: Thread, ms: number) => new Date(thread.updatedAt.getTime() + ms);

    it("keeps a thread's TTL from creation and update; an update starts its clock again", async () => {
      const thread = await storage.threads.createThread({ threadId: newId(), metadata: {}, ttlMinutes: 1.5 });
      expect(thread?.ttlMinutes).toBe(1.5);
      expect(await storage.threads.getThread(thread!.threadId)).toEqual(thread);
      const patched = await storage.threads.updateThread(thread!.threadId, { ttlMinutes: 10 });
      expect(patched?.ttlMinutes).toBe(10);
      // An update without a TTL keeps it.
      expect((await storage.threads.updateThread(thread!.threadId, { metadata: { a: 1 } }))?.ttlMinutes).toBe(10);
      const current = (await storage.threads.getThread(thread!.threadId))!;
      expect(await storage.threads.deleteExpiredThreads(later(current, minutes(10) - 1000), 100)).not.toContain(thread!.threadId);
      await storage.threads.setThreadValues(thread!.threadId, { touched: true });
      const touched = (await storage.threads.getThread(thread!.threadId))!;
      // Expired as seen from the first update, not from the last one.
      expect(await storage.threads.deleteExpiredThreads(later(current, minutes(10) + 1), 100)).not.toContain(thread!.threadId);
      expect(await storage.threads.deleteExpiredThreads(later(touched, minutes(10) + 1000), 100)).toContain(thread!.threadId);
      expect(await storage.threads.getThread(thread!.threadId)).toBeNull();
    });

    it("deletes an expired thread with its runs, never one without a TTL nor one a pending or running run holds", async () => {
      const expired = await storage.threads.createThread({ threadId: newId(), metadata: {}, ttlMinutes: 1 });
      const held = await storage.threads.createThread({ threadId: newId(), metadata: {}, ttlMinutes: 1 });
      const kept = await create();
      const finished = await storage.runs.admitRun(makeRun(expired!.threadId, { status: "success" }), { exclusive: false });
      await storage.runs.admitRun(makeRun(held!.threadId, { status: "running" }), { exclusive: false });
      if (!("run" in finished)) throw new Error("not admitted");
      const deleted = await storage.threads.deleteExpiredThreads(new Date(Date.now() + minutes(60)), 1000);
      expect(deleted).toContain(expired!.threadId);
      expect(deleted).not.toContain(held!.threadId);
      expect(deleted).not.toContain(kept.threadId);
      expect(await storage.threads.getThread(expired!.threadId)).toBeNull();
      expect(await storage.runs.getRun(expired!.threadId, finished.run.runId)).toBeNull();
      expect(await storage.threads.getThread(held!.threadId)).not.toBeNull();
      expect(await storage.threads.getThread(kept.threadId)).toEqual(kept);
    });

    it("deletes each expired thread once when several instances sweep at once, in batches", async () => {
      const expired: string[] = [];
      for (let index = 0; index < 12; index += 1) expired.push((await storage.threads.createThread({ threadId: newId(), metadata: {}, ttlMinutes: 0.5 }))!.threadId);
      const instances = [storage, await backend.open(), await backend.open()];
      const now = new Date(Date.now() + minutes(60));
      const sweeps = await Promise.all(
        instances.map(async (instance) => {
          const mine: string[] = [];
          for (let batch = await instance.threads.deleteExpiredThreads(now, 2); batch.length > 0; batch = await instance.threads.deleteExpiredThreads(now, 2)) mine.push(...batch);
          return mine;
        }),
      );
      const all = sweeps.flat().filter((threadId) => expired.includes(threadId));
      expect(all.sort()).toEqual([...expired].sort());
      for (const threadId of expired) expect(await storage.threads.getThread(threadId)).toBeNull();
    });
  });

  describe("copy", () => {
    const config = (threadId: string) => ({ configurable: { thread_id: threadId, checkpoint_ns: "" } });
    const contents = (tuple: CheckpointTuple | undefined) =>
      ((tuple?.checkpoint.channel_values.messages ?? []) as Array<{ content: unknown }>).map((message) => message.content);
    /** Copies a thread as POST /threads/{id}/copy does: held as a run holds it, record then checkpoints. */
    const copyThread = (source: Thread, copyId: string) =>
      storage.runs.holdThread(source.threadId, async () => {
        const created = await storage.threads.createThread({ threadId: copyId, metadata: source.metadata, owner: source.owner ?? undefined });
        await storage.checkpointer.copyThread(source.threadId, copyId);
        return created;
      });
    const history = async (threadId: string) => {
      const tuples: CheckpointTuple[] = [];
      for await (const tuple of storage.checkpointer.list(config(threadId))) tuples.push(tuple);
      return tuples;
    };

    it("copies every checkpoint and pending write; the copy then goes its own way", async () => {
      const agent = createAgent({ model: new FakeListChatModel({ responses: ["first answer", "second answer"] }), checkpointer: storage.checkpointer });
      const source = await create({ topic: "to copy" }, { owner: "alice" });
      await agent.invoke({ messages: [new HumanMessage("original")] }, config(source.threadId));
      await agent.invoke({ messages: [new HumanMessage("again")] }, config(source.threadId));
      const head = await storage.checkpointer.getTuple(config(source.threadId));
      await storage.checkpointer.putWrites(head!.config, [["note", { pending: "write" }]], "task-1");

      const copyId = newId("copy");
      const copied = await copyThread(source, copyId);
      expect(copied).toEqual({ value: expect.objectContaining({ threadId: copyId, metadata: { topic: "to copy" }, owner: "alice", status: "idle" }) });

      const [sourceHistory, copyHistory] = [await history(source.threadId), await history(copyId)];
      expect(copyHistory.length).toBeGreaterThan(1);
      expect(copyHistory.map((tuple) => [tuple.checkpoint.id, tuple.parentConfig?.configurable?.checkpoint_id, contents(tuple), tuple.metadata])).toEqual(
        sourceHistory.map((tuple) => [tuple.checkpoint.id, tuple.parentConfig?.configurable?.checkpoint_id, contents(tuple), tuple.metadata]),
      );
      expect((await storage.checkpointer.getTuple(config(copyId)))?.pendingWrites).toEqual([["task-1", "note", { pending: "write" }]]);
      expect(await storage.checkpointer.headCheckpointId(copyId)).toBe(head!.checkpoint.id);

      // Removing the copy's checkpoints leaves the source's.
      await storage.checkpointer.deleteThread(copyId);
      expect(await history(copyId)).toEqual([]);
      expect(contents(await storage.checkpointer.getTuple(config(source.threadId)))).toEqual(["original", "first answer", "again", "second answer"]);
      expect(await history(source.threadId)).toHaveLength(sourceHistory.length);
    });

    it("a copy is independent: a turn on it does not reach the source", async () => {
      const agent = createAgent({ model: new FakeListChatModel({ responses: ["first answer", "second answer"] }), checkpointer: storage.checkpointer });
      const source = await create();
      await agent.invoke({ messages: [new HumanMessage("original")] }, config(source.threadId));
      const copyId = newId("copy");
      await copyThread(source, copyId);
      await agent.invoke({ messages: [new HumanMessage("only in the copy")] }, config(copyId));
      expect(contents(await storage.checkpointer.getTuple(config(copyId)))).toEqual(["original", "first answer", "only in the copy", "second answer"]);
      expect(contents(await storage.checkpointer.getTuple(config(source.threadId)))).toEqual(["original", "first answer"]);
    });

    it("is refused while a run holds the source, creating nothing", async () => {
      const source = await create();
      const admitted = await storage.runs.admitRun(makeRun(source.threadId), { exclusive: true });
      if (!("run" in admitted)) throw new Error("not admitted");
      const copyId = newId("copy");
      expect(await copyThread(source, copyId)).toEqual({ busyWith: admitted.run.runId });
      expect(await storage.threads.getThread(copyId)).toBeNull();
    });
  });
});

if (!postgresAvailable) describe.skip("postgres thread repository (PostgreSQL unreachable)", () => it("runs the contract", () => undefined));
