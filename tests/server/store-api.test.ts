/**
 * The key-value store (`/store`) through the SDK's StoreClient, on both backends: every
 * operation, search and namespace listing options, bad input, owner isolation with API keys, and
 * the store a run's graph gets (its owner's view, `configurable.user_id` defaulting to the owner).
 * The graph here is a one-node graph that writes to and reads from `config.store`, so the test
 * sees exactly what a node receives.
 */
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import { END, type LangGraphRunnableConfig, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Agent } from "../../src/graph/agent.js";
import type { Storage } from "../../src/storage/storage.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

const ADA_KEY = "ada-key-0123456789abcdef";
const BOB_KEY = "bob-key-0123456789abcdef";

/**
 * A graph whose one node writes the user's last message to `["notes", <user_id>]` in
 * `config.store`, and answers with what it saw: its user id and every namespace its store shows.
 */
function storeProbeGraph(storage: Storage): Agent {
  return new StateGraph(MessagesAnnotation)
    .addNode("probe", async (state, config: LangGraphRunnableConfig) => {
      const store = config.store;
      if (!store) throw new Error("the run has no store");
      const userId = (config.configurable?.user_id as string | undefined) ?? "local";
      const last = state.messages.at(-1) as BaseMessage;
      await store.put(["notes", userId], "last", { text: last.content });
      const seen = (await store.search([], { limit: 100 })).map((item) => item.namespace.join("/"));
      return { messages: [new AIMessage(JSON.stringify({ userId: config.configurable?.user_id ?? null, seen }))] };
    })
    .addEdge(START, "probe")
    .addEdge("probe", END)
    .compile({ checkpointer: storage.checkpointer }) as unknown as Agent;
}

/** The probe's answer to one run. */
async function probe(client: Client, text: string, configurable: Record<string, unknown> = {}) {
  const thread = await client.threads.create();
  const values = (await client.runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: text }] }, config: { configurable } })) as {
    messages: { content: string }[];
  };
  return JSON.parse(values.messages.at(-1)!.content) as { userId: string | null; seen: string[] };
}

describe.each(await testBackends())("on %s", (backend) => {
  let stub: OpenAiStub;
  beforeAll(async () => {
    stub = await startOpenAiStub();
  });
  afterAll(async () => {
    await stub.close();
  });

  describe("without API keys", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(stub, { backend, agent: storeProbeGraph });
    });
    afterAll(async () => {
      await server.close();
    });
    afterEach(() => vi.restoreAllMocks());
    /** A namespace top label of the test's own, so tests sharing the server never see each other's items. */
    const scope = () => `t${randomUUID().slice(0, 8)}`;

    it("puts, gets, replaces and deletes an item", async () => {
      const { store } = server.client;
      const top = scope();
      expect(await store.getItem([top, "profile"], "ada")).toBeNull();
      await store.putItem([top, "profile"], "ada", { name: "Ada", langs: ["en"] });
      const item = await store.getItem([top, "profile"], "ada");
      expect(item).toMatchObject({ namespace: [top, "profile"], key: "ada", value: { name: "Ada", langs: ["en"] } });
      // On the wire as the official server sends it: ISO dates in created_at / updated_at.
      const wire = item as unknown as { created_at: string; updated_at: string };
      expect(new Date(wire.created_at).toISOString()).toBe(wire.created_at);
      expect(item!.updatedAt).toBe(wire.updated_at);
      await store.putItem([top, "profile"], "ada", { name: "Ada Lovelace" });
      const replaced = (await store.getItem([top, "profile"], "ada")) as unknown as { value: unknown; updated_at: string };
      expect(replaced.value).toEqual({ name: "Ada Lovelace" });
      expect(Date.parse(replaced.updated_at)).toBeGreaterThanOrEqual(Date.parse(wire.created_at));
      await store.deleteItem([top, "profile"], "ada");
      expect(await store.getItem([top, "profile"], "ada")).toBeNull();
      // Deleting what is not there is no error.
      await store.deleteItem([top, "profile"], "ada");
    });

    it("takes a ttl in minutes and refresh_ttl on reads, and hands them to the store", async () => {
      const { store } = server.client;
      const top = scope();
      const batch = vi.spyOn(server.deps.storage.store, "batch");
      await store.putItem([top], "soon", { text: "expires" }, { ttl: 5 });
      await store.putItem([top], "never", { text: "stays" }, { ttl: null });
      expect(await store.getItem([top], "soon", { refreshTtl: true })).toMatchObject({ value: { text: "expires" } });
      expect((await store.searchItems([top], { refreshTtl: false })).items.map((item) => item.key).sort()).toEqual(["never", "soon"]);
      const operations = batch.mock.calls.flatMap(([operations]) => operations) as unknown as Record<string, unknown>[];
      expect(operations).toContainEqual(expect.objectContaining({ key: "soon", value: { text: "expires" }, ttl: 5 }));
      expect(operations).toContainEqual(expect.objectContaining({ key: "never", ttl: null }));
      expect(operations).toContainEqual(expect.objectContaining({ key: "soon", refreshTtl: true }));
      expect(operations).toContainEqual(expect.objectContaining({ refreshTtl: false, limit: 10, offset: 0 }));
    });

    it("searches by namespace prefix, filter and query, page by page", async () => {
      const { store } = server.client;
      const top = scope();
      for (let index = 0; index < 6; index += 1) {
        await store.putItem([top, index % 2 ? "odd" : "even"], `n${index}`, { index, kind: index % 2 ? "odd" : "even", text: index === 3 ? "Ada wrote programs" : "other" });
      }
      await store.putItem([`${top}x`], "elsewhere", { kind: "odd" });
      const keys = (items: { key: string }[]) => items.map((item) => item.key).sort();
      expect(keys((await store.searchItems([top])).items)).toEqual(["n0", "n1", "n2", "n3", "n4", "n5"]);
      expect(keys((await store.searchItems([top, "even"])).items)).toEqual(["n0", "n2", "n4"]);
      expect(keys((await store.searchItems([top], { filter: { kind: "odd" } })).items)).toEqual(["n1", "n3", "n5"]);
      expect(keys((await store.searchItems([top], { filter: { kind: "odd", index: 3 } })).items)).toEqual(["n3"]);
      const found = (await store.searchItems([top], { query: "Ada programs", limit: 10 })).items;
      expect(keys(found)).toContain("n3");
      expect(found.every((item) => item.namespace[0] === top)).toBe(true);
      const pages = [];
      for (let offset = 0; offset < 6; offset += 4) pages.push(...(await store.searchItems([top], { limit: 4, offset })).items);
      expect(keys(pages)).toEqual(["n0", "n1", "n2", "n3", "n4", "n5"]);
      expect((await store.searchItems([top], { limit: 4, offset: 0 })).items).toHaveLength(4);
      expect((await store.searchItems([top], { offset: 6 })).items).toEqual([]);
    });

    it("lists namespaces by prefix, suffix and depth, page by page", async () => {
      const { store } = server.client;
      const top = scope();
      await store.putItem([top, "a", "b", "c"], "k", { v: 1 });
      await store.putItem([top, "a", "d"], "k", { v: 1 });
      await store.putItem([top, "x", "d"], "k", { v: 1 });
      const sorted = ({ namespaces }: { namespaces: string[][] }) => namespaces.map((namespace) => namespace.join("/")).sort();
      expect(sorted(await store.listNamespaces({ prefix: [top] }))).toEqual([`${top}/a/b/c`, `${top}/a/d`, `${top}/x/d`]);
      expect(sorted(await store.listNamespaces({ prefix: [top, "a"] }))).toEqual([`${top}/a/b/c`, `${top}/a/d`]);
      expect(sorted(await store.listNamespaces({ prefix: [top], suffix: ["d"] }))).toEqual([`${top}/a/d`, `${top}/x/d`]);
      expect(sorted(await store.listNamespaces({ prefix: [top], maxDepth: 2 }))).toEqual([`${top}/a`, `${top}/x`]);
      const first = await store.listNamespaces({ prefix: [top], limit: 2, offset: 0 });
      const rest = await store.listNamespaces({ prefix: [top], limit: 2, offset: 2 });
      expect(first.namespaces).toHaveLength(2);
      expect(sorted({ namespaces: [...first.namespaces, ...rest.namespaces] })).toEqual([`${top}/a/b/c`, `${top}/a/d`, `${top}/x/d`]);
      expect(sorted(await store.listNamespaces())).toEqual(expect.arrayContaining([`${top}/a/b/c`]));
    });

    it("refuses bad input with a 422 {detail} and stores nothing", async () => {
      const top = scope();
      const put = (body: Record<string, unknown>) => server.request("/store/items", { method: "PUT", body: { key: "k", value: { a: 1 }, ...body } });
      const refused = [
        await put({ namespace: [] }),
        await put({ namespace: [top, "a.b"] }),
        await put({ namespace: [top, "a:b"] }),
        await put({ namespace: [top, ""] }),
        await put({ namespace: `${top}` }),
        await put({ namespace: [top], value: "text" }),
        await put({ namespace: [top], value: [1, 2] }),
        await put({ namespace: [top], value: null }),
        await put({ namespace: [top], value: 42 }),
        await put({ namespace: [top], ttl: -1 }),
        await put({ namespace: [top], ttl: 0 }),
        await put({ namespace: [top], ttl: "5" }),
        await put({ namespace: [top], key: "" }),
        await put({ namespace: [top], index: "text" }),
        await server.request("/store/items?key=k"),
        await server.request(`/store/items?namespace=${top}..a&key=k`),
        await server.request("/store/items", { method: "DELETE", body: { namespace: [], key: "k" } }),
        await server.request("/store/items/search", { body: { namespace_prefix: [top, "a.b"] } }),
        await server.request("/store/items/search", { body: { namespace_prefix: [top], limit: 0 } }),
        await server.request("/store/namespaces", { body: { prefix: [top], max_depth: 0 } }),
      ];
      for (const response of refused) {
        expect(response.status).toBe(422);
        expect(response.body).toEqual({ detail: expect.any(String) });
      }
      expect((refused[1]!.body as { detail: string }).detail).toMatch(/periods/);
      expect((refused[5]!.body as { detail: string }).detail).toMatch(/value/);
      await expect(server.client.store.putItem([], "k", { a: 1 })).rejects.toMatchObject({ status: 422 });
      expect((await server.client.store.searchItems([top])).items).toEqual([]);
      expect((await server.client.store.listNamespaces({ prefix: [top] })).namespaces).toEqual([]);
    });

    it("gives a run's graph the local user's store, the one this API shows", async () => {
      const seen = await probe(server.client, "remember the milk");
      expect(seen.userId).toBeNull();
      expect(seen.seen).toContain("notes/local");
      expect(await server.client.store.getItem(["notes", "local"], "last")).toMatchObject({ value: { text: "remember the milk" } });
    });
  });

  describe("with API keys", () => {
    let server: TestServer;
    let ada: Client;
    let bob: Client;
    beforeAll(async () => {
      server = await startServer(stub, { backend, agent: storeProbeGraph, env: { API_KEYS: `ada:${ADA_KEY},bob:${BOB_KEY}` }, apiKey: ADA_KEY });
      ada = server.client;
      bob = new Client({ apiUrl: server.baseUrl, apiKey: BOB_KEY, callerOptions: { maxRetries: 0 } });
    });
    afterAll(async () => {
      await server.close();
    });

    it("never lets one owner read, list, search or delete another's items, whatever namespace it names", async () => {
      await ada.store.putItem(["memories", "ada"], "name", { text: "Ada" });
      const namings = [["memories", "ada"], ["owners", "ada", "memories", "ada"], ["local", "memories", "ada"]];
      for (const namespace of namings) expect(await bob.store.getItem(namespace, "name")).toBeNull();
      for (const prefix of [[], ["memories"], ["owners"], ["owners", "ada"]]) {
        expect((await bob.store.searchItems(prefix, { limit: 100 })).items).toEqual([]);
        expect((await bob.store.listNamespaces({ prefix: prefix.length ? prefix : undefined })).namespaces).toEqual([]);
      }
      expect((await bob.store.listNamespaces({ suffix: ["ada"] })).namespaces).toEqual([]);
      for (const namespace of namings) await bob.store.deleteItem(namespace, "name");
      expect(await ada.store.getItem(["memories", "ada"], "name")).toMatchObject({ value: { text: "Ada" } });
      // Bob's item of the same name is his own; Ada's is untouched.
      await bob.store.putItem(["memories", "ada"], "name", { text: "Bob's" });
      expect(await ada.store.getItem(["memories", "ada"], "name")).toMatchObject({ namespace: ["memories", "ada"], value: { text: "Ada" } });
      expect(await bob.store.getItem(["memories", "ada"], "name")).toMatchObject({ value: { text: "Bob's" } });
      expect((await ada.store.listNamespaces()).namespaces).toEqual([["memories", "ada"]]);
      const anonymous = await server.request("/store/items/search", { body: {} });
      expect(anonymous.status).toBe(401);
    });

    it("gives a run's graph its owner's store, and the owner as user_id unless the run names one", async () => {
      const adaSeen = await probe(ada, "I am Ada");
      expect(adaSeen.userId).toBe("ada");
      expect(await ada.store.getItem(["notes", "ada"], "last")).toMatchObject({ value: { text: "I am Ada" } });
      expect(await bob.store.getItem(["notes", "ada"], "last")).toBeNull();

      // Bob names Ada's user id: his run writes and reads inside his own store all the same.
      const bobSeen = await probe(bob, "I am Bob", { user_id: "ada" });
      expect(bobSeen.userId).toBe("ada");
      expect(bobSeen.seen).toEqual(expect.arrayContaining(["notes/ada"]));
      expect(bobSeen.seen).not.toContain("notes/local");
      expect(await ada.store.getItem(["notes", "ada"], "last")).toMatchObject({ value: { text: "I am Ada" } });
      expect(await bob.store.getItem(["notes", "ada"], "last")).toMatchObject({ value: { text: "I am Bob" } });

      // context.user_id names one too.
      const thread = await ada.threads.create();
      const values = (await ada.runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "hi" }] }, context: { user_id: "grace" } })) as {
        messages: { content: string }[];
      };
      expect(JSON.parse(values.messages.at(-1)!.content)).toMatchObject({ userId: "grace" });
      expect(await ada.store.getItem(["notes", "grace"], "last")).toMatchObject({ value: { text: "hi" } });
      expect(await bob.store.getItem(["notes", "grace"], "last")).toBeNull();
    });
  });
});
