/**
 * An owner's view of the store (src/storage/scoped-store.ts) over LangGraph's InMemoryStore:
 * each owner sees its own items as if the store were its alone, and nothing of anyone else's.
 */
import { InMemoryStore, type Operation } from "@langchain/langgraph-checkpoint";
import { beforeEach, describe, expect, it } from "vitest";
import { ownerPrefix, scopedStore } from "../../src/storage/scoped-store.js";

describe("scopedStore", () => {
  let store: InMemoryStore;
  beforeEach(() => {
    store = new InMemoryStore();
  });

  it("keeps an owner's items under its prefix and gives them back without it", async () => {
    const ada = scopedStore(store, "ada");
    await ada.put(["memories", "u1"], "name", { text: "Ada" });
    expect(await store.get(["owners", "ada", "memories", "u1"], "name")).toMatchObject({ value: { text: "Ada" } });
    const item = await ada.get(["memories", "u1"], "name");
    expect(item).toMatchObject({ namespace: ["memories", "u1"], key: "name", value: { text: "Ada" } });
    expect(item?.createdAt).toBeInstanceOf(Date);
    await ada.delete(["memories", "u1"], "name");
    expect(await ada.get(["memories", "u1"], "name")).toBeNull();
    expect(await store.get(["owners", "ada", "memories", "u1"], "name")).toBeNull();
  });

  it("never shows or touches another owner's items, whatever namespace is named", async () => {
    const ada = scopedStore(store, "ada");
    const bob = scopedStore(store, "bob");
    await ada.put(["memories"], "secret", { text: "Ada's" });
    expect(await bob.get(["memories"], "secret")).toBeNull();
    // Naming the other owner's full namespace only reaches inside one's own prefix.
    expect(await bob.get(["owners", "ada", "memories"], "secret")).toBeNull();
    expect(await bob.search([])).toEqual([]);
    expect(await bob.search(["owners", "ada"])).toEqual([]);
    expect(await bob.listNamespaces()).toEqual([]);
    expect(await bob.listNamespaces({ prefix: ["owners"] })).toEqual([]);
    await bob.delete(["memories"], "secret");
    await bob.delete(["owners", "ada", "memories"], "secret");
    expect(await ada.get(["memories"], "secret")).toMatchObject({ value: { text: "Ada's" } });
    // The local user (no API keys) is another scope again.
    expect(await scopedStore(store, undefined).search([])).toEqual([]);
  });

  it("searches inside the prefix with filters, queries and pages, namespaces stripped", async () => {
    const ada = scopedStore(store, "ada");
    for (let index = 0; index < 5; index += 1) await ada.put(["notes", index % 2 ? "odd" : "even"], `n${index}`, { index, kind: index % 2 ? "odd" : "even" });
    await scopedStore(store, "bob").put(["notes", "odd"], "b", { index: 9, kind: "odd" });
    const all = await ada.search(["notes"], { limit: 10 });
    expect(all.map((item) => item.key).sort()).toEqual(["n0", "n1", "n2", "n3", "n4"]);
    expect(all.every((item) => item.namespace[0] === "notes")).toBe(true);
    const odd = await ada.search([], { filter: { kind: "odd" } });
    expect(odd.map((item) => item.key).sort()).toEqual(["n1", "n3"]);
    expect((await ada.search(["notes", "even"])).map((item) => item.namespace)).toEqual([["notes", "even"], ["notes", "even"], ["notes", "even"]]);
    const first = await ada.search(["notes"], { limit: 2, offset: 0 });
    const rest = await ada.search(["notes"], { limit: 10, offset: 2 });
    expect([...first, ...rest].map((item) => item.key).sort()).toEqual(["n0", "n1", "n2", "n3", "n4"]);
  });

  it("lists the owner's namespaces with prefix, suffix, depth and pages", async () => {
    const ada = scopedStore(store, "ada");
    await ada.put(["a", "b", "c"], "k", { v: 1 });
    await ada.put(["a", "d"], "k", { v: 1 });
    await ada.put(["x", "d"], "k", { v: 1 });
    await scopedStore(store, "bob").put(["a", "zz"], "k", { v: 1 });
    const sorted = (namespaces: string[][]) => namespaces.map((namespace) => namespace.join("/")).sort();
    expect(sorted(await ada.listNamespaces())).toEqual(["a/b/c", "a/d", "x/d"]);
    expect(sorted(await ada.listNamespaces({ prefix: ["a"] }))).toEqual(["a/b/c", "a/d"]);
    expect(sorted(await ada.listNamespaces({ suffix: ["d"] }))).toEqual(["a/d", "x/d"]);
    expect(sorted(await ada.listNamespaces({ prefix: ["a"], suffix: ["d"] }))).toEqual(["a/d"]);
    expect(sorted(await ada.listNamespaces({ maxDepth: 1 }))).toEqual(["a", "x"]);
    const paged = [...(await ada.listNamespaces({ limit: 2, offset: 0 })), ...(await ada.listNamespaces({ limit: 2, offset: 2 }))];
    expect(sorted(paged)).toEqual(["a/b/c", "a/d", "x/d"]);
  });

  it("passes the fields a store reads beyond BaseStore's (ttl, refreshTtl) through batch", async () => {
    const seen: Operation[] = [];
    const recording = new (class extends InMemoryStore {
      override async batch<Op extends readonly Operation[]>(operations: Op) {
        seen.push(...operations);
        return super.batch(operations);
      }
    })();
    await scopedStore(recording, "ada").batch([
      { namespace: ["m"], key: "k", value: { a: 1 }, ttl: 5 } as Operation,
      { namespace: ["m"], key: "k", refreshTtl: true } as Operation,
    ]);
    expect(seen).toEqual([
      { namespace: ["owners", "ada", "m"], key: "k", value: { a: 1 }, ttl: 5 },
      { namespace: ["owners", "ada", "m"], key: "k", refreshTtl: true },
    ]);
  });

  it("gives owners with dots, colons or percent signs distinct labels a store accepts", () => {
    const labels = ["a.b", "a:b", "a%2Eb", "a%3Ab", "ab"].map((owner) => ownerPrefix(owner)[1]);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels.every((label) => !/[.:]/.test(label!))).toBe(true);
  });
});
