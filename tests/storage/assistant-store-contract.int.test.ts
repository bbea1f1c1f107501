/**
 * The assistant repository contract, run against SQLite and (when a server answers) PostgreSQL:
 * create (a taken id is refused, by anyone), get (scoped by owner, system assistants seen by
 * all), update (a new version each time: given fields replaced, metadata merged), putting an
 * earlier version in use, delete (with its versions), versions (newest first, metadata filter,
 * pages), search and count (owner, graph, name as a substring in any case, metadata as JSON
 * values; every sort field both ways; pages), and changes from two instances at once.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Assistant, AssistantContent, AssistantSearch, AssistantSortField } from "../../src/storage/assistants.js";
import type { Storage } from "../../src/storage/storage.js";
import { type StorageBackend, storageBackends } from "../support/storage-backends.js";

const content = (overrides: Partial<AssistantContent> = {}): AssistantContent => ({
  graphId: "agent",
  name: "Helper",
  description: null,
  config: {},
  context: {},
  metadata: {},
  ...overrides,
});

const ids = (assistants: Assistant[]) => assistants.map((assistant) => assistant.assistantId);

describe.each(storageBackends)("%s assistant repository", (_name, createBackend) => {
  let backend: StorageBackend;
  let storage: Storage;
  beforeAll(async () => {
    backend = createBackend();
    storage = await backend.open();
  });
  afterAll(() => backend?.dispose());

  const create = async (overrides: Partial<AssistantContent> = {}, options: { owner?: string; system?: boolean; assistantId?: string } = {}) => {
    const assistant = await storage.assistants.create({ assistantId: options.assistantId ?? randomUUID(), owner: options.owner, system: options.system, ...content(overrides) });
    if (!assistant) throw new Error("assistant id taken");
    return assistant;
  };
  /** Search with defaults, as the route fills them in. */
  const search = (filter: Partial<AssistantSearch>) => storage.assistants.search({ limit: 100, offset: 0, sortBy: "created_at", sortOrder: "asc", ...filter });

  it("sets up idempotently, also from several storages at once", async () => {
    await storage.setup();
    await Promise.all([backend.open(), backend.open()]);
    const assistant = await create();
    expect(await (await backend.open()).assistants.get(assistant.assistantId)).toEqual(assistant);
  });

  describe("create and get", () => {
    it("creates version 1 with its content, and reads it back as created", async () => {
      const assistantId = randomUUID();
      const created = await storage.assistants.create({
        assistantId,
        owner: "alice",
        ...content({ name: "Pirate", description: "Talks like one", config: { configurable: { system_prompt: "Arr" }, tags: ["x"] }, context: { topic: "sea" }, metadata: { team: "a", nested: { n: 1 } } }),
      });
      expect(created).toEqual({
        assistantId,
        owner: "alice",
        system: false,
        graphId: "agent",
        name: "Pirate",
        description: "Talks like one",
        config: { configurable: { system_prompt: "Arr" }, tags: ["x"] },
        context: { topic: "sea" },
        metadata: { team: "a", nested: { n: 1 } },
        version: 1,
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      });
      expect(created!.updatedAt.getTime()).toBe(created!.createdAt.getTime());
      expect(await storage.assistants.get(assistantId)).toEqual(created);
      expect(await storage.assistants.listVersions(assistantId, { limit: 10, offset: 0 })).toEqual([
        {
          assistantId,
          graphId: "agent",
          name: "Pirate",
          description: "Talks like one",
          config: { configurable: { system_prompt: "Arr" }, tags: ["x"] },
          context: { topic: "sea" },
          metadata: { team: "a", nested: { n: 1 } },
          version: 1,
          createdAt: created!.createdAt,
        },
      ]);
    });

    it("refuses a taken id, on any instance and for any owner, and leaves the first as it was", async () => {
      const first = await create({ name: "first" }, { owner: "alice" });
      const other = await backend.open();
      expect(await storage.assistants.create({ assistantId: first.assistantId, owner: "alice", ...content({ name: "second" }) })).toBeNull();
      expect(await other.assistants.create({ assistantId: first.assistantId, owner: "bob", ...content({ name: "third" }) })).toBeNull();
      expect(await other.assistants.get(first.assistantId)).toEqual(first);
      expect(await storage.assistants.listVersions(first.assistantId, { limit: 10, offset: 0 })).toHaveLength(1);
    });

    it("returns null for an unknown assistant", async () => {
      expect(await storage.assistants.get(randomUUID())).toBeNull();
      expect(await storage.assistants.get(randomUUID(), "alice")).toBeNull();
      expect(await storage.assistants.listVersions(randomUUID(), { limit: 10, offset: 0 })).toBeNull();
    });

    it("scopes get by owner: another owner's and nobody's are not found, a system assistant is found by all", async () => {
      const alices = await create({}, { owner: "alice" });
      const nobodys = await create();
      const system = await create({ name: "system" }, { system: true });
      expect(await storage.assistants.get(alices.assistantId, "alice")).toEqual(alices);
      expect(await storage.assistants.get(alices.assistantId, "bob")).toBeNull();
      expect(await storage.assistants.get(nobodys.assistantId, "alice")).toBeNull();
      expect(await storage.assistants.get(system.assistantId, "bob")).toEqual(system);
      expect(system).toMatchObject({ system: true, owner: null });
      expect(await storage.assistants.listVersions(alices.assistantId, { limit: 10, offset: 0 }, "bob")).toBeNull();
      // Without an owner (authentication off) every assistant is visible.
      expect(await storage.assistants.get(alices.assistantId)).toEqual(alices);
      expect(await storage.assistants.get(nobodys.assistantId)).toEqual(nobodys);
    });
  });

  describe("versions", () => {
    it("makes a new version on each update: given fields replaced, metadata merged, the rest kept", async () => {
      const assistant = await create({ name: "v1", description: "first", config: { configurable: { a: 1 } }, context: { c: 1 }, metadata: { keep: 1, change: 1 } });
      const second = await storage.assistants.update(assistant.assistantId, { config: { configurable: { b: 2 } }, metadata: { change: 2, added: true } });
      expect(second).toMatchObject({
        version: 2,
        name: "v1",
        description: "first",
        config: { configurable: { b: 2 } },
        context: { c: 1 },
        metadata: { keep: 1, change: 2, added: true },
        createdAt: assistant.createdAt,
      });
      expect(second!.updatedAt.getTime()).toBeGreaterThan(assistant.updatedAt.getTime());
      const third = await storage.assistants.update(assistant.assistantId, { name: "v3", description: "third", context: { d: 4 } });
      expect(third).toMatchObject({ version: 3, name: "v3", description: "third", config: { configurable: { b: 2 } }, context: { d: 4 }, metadata: { keep: 1, change: 2, added: true } });
      // An empty change is a version too, as on the official server.
      expect(await storage.assistants.update(assistant.assistantId, {})).toMatchObject({ version: 4, name: "v3" });
      const versions = await storage.assistants.listVersions(assistant.assistantId, { limit: 10, offset: 0 });
      expect(versions?.map((version) => [version.version, version.name, version.config])).toEqual([
        [4, "v3", { configurable: { b: 2 } }],
        [3, "v3", { configurable: { b: 2 } }],
        [2, "v1", { configurable: { b: 2 } }],
        [1, "v1", { configurable: { a: 1 } }],
      ]);
      expect(await storage.assistants.get(assistant.assistantId)).toMatchObject({ version: 4 });
    });

    it("lists versions newest first, filtered by metadata, in pages", async () => {
      const assistant = await create({ metadata: { stage: "draft" } });
      await storage.assistants.update(assistant.assistantId, { metadata: { stage: "review" } });
      await storage.assistants.update(assistant.assistantId, { metadata: { stage: "live" } });
      const list = (options: { metadata?: Record<string, unknown>; limit?: number; offset?: number }) =>
        storage.assistants.listVersions(assistant.assistantId, { limit: 10, offset: 0, ...options }).then((versions) => versions?.map((version) => version.version));
      expect(await list({})).toEqual([3, 2, 1]);
      expect(await list({ limit: 1 })).toEqual([3]);
      expect(await list({ offset: 1 })).toEqual([2, 1]);
      expect(await list({ metadata: { stage: "review" } })).toEqual([2]);
      expect(await list({ metadata: { stage: "gone" } })).toEqual([]);
    });

    it("puts an earlier version in use; the next update numbers after the highest", async () => {
      const assistant = await create({ name: "one", config: { configurable: { system_prompt: "first" } }, context: { k: 1 }, metadata: { m: 1 } });
      await storage.assistants.update(assistant.assistantId, { name: "two", config: { configurable: { system_prompt: "second" } }, context: { k: 2 }, metadata: { m: 2 } });
      const back = await storage.assistants.setVersion(assistant.assistantId, 1);
      expect(back).toMatchObject({ version: 1, name: "one", config: { configurable: { system_prompt: "first" } }, context: { k: 1 }, metadata: { m: 1 } });
      expect(await storage.assistants.get(assistant.assistantId)).toEqual(back);
      expect(await storage.assistants.update(assistant.assistantId, {})).toMatchObject({ version: 3, name: "one", context: { k: 1 } });
      expect(await storage.assistants.setVersion(assistant.assistantId, 9)).toBe("no-version");
      expect(await storage.assistants.get(assistant.assistantId)).toMatchObject({ version: 3 });
    });

    it("changes nothing of an assistant the owner may not see, nor of an unknown one", async () => {
      const alices = await create({ name: "alice's" }, { owner: "alice" });
      expect(await storage.assistants.update(alices.assistantId, { name: "taken" }, "bob")).toBeNull();
      expect(await storage.assistants.setVersion(alices.assistantId, 1, "bob")).toBeNull();
      expect(await storage.assistants.delete(alices.assistantId, "bob")).toBe(false);
      expect(await storage.assistants.get(alices.assistantId)).toEqual(alices);
      expect(await storage.assistants.update(randomUUID(), { name: "x" })).toBeNull();
      expect(await storage.assistants.setVersion(randomUUID(), 1)).toBeNull();
      expect(await storage.assistants.update(alices.assistantId, { name: "alice's 2" }, "alice")).toMatchObject({ version: 2 });
    });

    it("numbers versions without gaps or repeats when two instances change one assistant at once", async () => {
      const assistant = await create();
      const other = await backend.open();
      const updates = Array.from({ length: 6 }, (_, index) => (index % 2 === 0 ? storage : other).assistants.update(assistant.assistantId, { metadata: { [`by${index}`]: index } }));
      const results = await Promise.all(updates);
      expect(results.map((result) => result?.version).sort((left, right) => left! - right!)).toEqual([2, 3, 4, 5, 6, 7]);
      const versions = await storage.assistants.listVersions(assistant.assistantId, { limit: 100, offset: 0 });
      expect(versions?.map((version) => version.version)).toEqual([7, 6, 5, 4, 3, 2, 1]);
      // Metadata merges: the last version has every key.
      expect(Object.keys(versions![0]!.metadata).sort()).toEqual(["by0", "by1", "by2", "by3", "by4", "by5"]);
    });
  });

  describe("delete", () => {
    it("deletes the assistant with its versions and nothing else; a second delete finds nothing", async () => {
      const gone = await create({}, { owner: "alice" });
      await storage.assistants.update(gone.assistantId, { name: "again" });
      const kept = await create({}, { owner: "alice" });
      expect(await storage.assistants.delete(gone.assistantId, "alice")).toBe(true);
      expect(await storage.assistants.get(gone.assistantId)).toBeNull();
      expect(await storage.assistants.listVersions(gone.assistantId, { limit: 10, offset: 0 })).toBeNull();
      expect(await storage.assistants.get(kept.assistantId)).toEqual(kept);
      expect(await storage.assistants.delete(gone.assistantId)).toBe(false);
      // The id may be used again, from version 1.
      expect(await create({}, { assistantId: gone.assistantId })).toMatchObject({ version: 1 });
      expect(await storage.assistants.listVersions(gone.assistantId, { limit: 10, offset: 0 })).toHaveLength(1);
    });
  });

  describe("search and count", () => {
    it("filters by owner, always with the system assistants; without an owner everything matches", async () => {
      const tag = randomUUID();
      const alices = await create({ metadata: { tag } }, { owner: "alice" });
      const bobs = await create({ metadata: { tag } }, { owner: "bob" });
      const nobodys = await create({ metadata: { tag } });
      const system = await create({ metadata: { tag } }, { system: true });
      expect(ids(await search({ metadata: { tag }, owner: "alice" }))).toEqual([alices.assistantId, system.assistantId]);
      expect(ids(await search({ metadata: { tag }, owner: "carol" }))).toEqual([system.assistantId]);
      expect(ids(await search({ metadata: { tag } }))).toEqual([alices.assistantId, bobs.assistantId, nobodys.assistantId, system.assistantId]);
      expect(await storage.assistants.count({ metadata: { tag }, owner: "bob" })).toBe(2);
      expect(await storage.assistants.count({ metadata: { tag } })).toBe(4);
    });

    it("filters by graph, by name as a substring in any case (wildcards are plain characters), and by metadata as JSON values", async () => {
      const tag = randomUUID();
      const simple = await create({ name: "SIMPLE_runtime", metadata: { tag, level: 1 } });
      const percent = await create({ name: "100% sure", metadata: { tag, level: "1" } });
      const other = await create({ name: "Other", graphId: "elsewhere", metadata: { tag, nested: { b: 2, a: 1 } } });
      const byName = async (name: string) => ids(await search({ metadata: { tag }, name }));
      expect(await byName("simple_")).toEqual([simple.assistantId]);
      expect(await byName("PLE_RUN")).toEqual([simple.assistantId]);
      expect(await byName("_")).toEqual([simple.assistantId]);
      expect(await byName("%")).toEqual([percent.assistantId]);
      expect(await byName("e")).toEqual([simple.assistantId, percent.assistantId, other.assistantId]);
      expect(await byName("nowhere")).toEqual([]);
      expect(ids(await search({ metadata: { tag }, graphId: "elsewhere" }))).toEqual([other.assistantId]);
      expect(ids(await search({ metadata: { tag, level: 1 } }))).toEqual([simple.assistantId]);
      expect(ids(await search({ metadata: { tag, level: "1" } }))).toEqual([percent.assistantId]);
      expect(ids(await search({ metadata: { tag, nested: { a: 1, b: 2 } } }))).toEqual([other.assistantId]);
      expect(await storage.assistants.count({ metadata: { tag }, name: "E", graphId: "agent" })).toBe(2);
    });

    it.each<[AssistantSortField]>([["assistant_id"], ["graph_id"], ["name"], ["created_at"], ["updated_at"]])("sorts by %s both ways, in pages", async (sortBy) => {
      const tag = randomUUID();
      const made = [
        await create({ name: "b", graphId: "g2", metadata: { tag } }, { assistantId: `00000000-0000-4000-8000-${randomUUID().slice(-12)}` }),
        await create({ name: "c", graphId: "g1", metadata: { tag } }),
        await create({ name: "a", graphId: "g3", metadata: { tag } }),
      ];
      // Updated in another order than created.
      await storage.assistants.update(made[1]!.assistantId, {});
      await storage.assistants.update(made[0]!.assistantId, {});
      const current = await Promise.all(made.map((assistant) => storage.assistants.get(assistant.assistantId) as Promise<Assistant>));
      const key = (assistant: Assistant) =>
        ({ assistant_id: assistant.assistantId, graph_id: assistant.graphId, name: assistant.name, created_at: assistant.createdAt.toISOString(), updated_at: assistant.updatedAt.toISOString() })[sortBy];
      const ascending = ids([...current].sort((left, right) => (key(left) < key(right) ? -1 : 1)));
      expect(ids(await search({ metadata: { tag }, sortBy, sortOrder: "asc" }))).toEqual(ascending);
      expect(ids(await search({ metadata: { tag }, sortBy, sortOrder: "desc" }))).toEqual([...ascending].reverse());
      expect(ids(await search({ metadata: { tag }, sortBy, sortOrder: "asc", limit: 2 }))).toEqual(ascending.slice(0, 2));
      expect(ids(await search({ metadata: { tag }, sortBy, sortOrder: "asc", limit: 2, offset: 2 }))).toEqual(ascending.slice(2));
    });
  });
});
