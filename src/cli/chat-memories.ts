/**
 * What `/memory` does, whichever backend holds the memories: the agent's long-term memories are
 * Store items under the namespace ["memories", <user>]. The backends give a `MemoryStoreAccess`
 * (the server's Store API through the SDK, or the database's `BaseStore`); this file lists,
 * forgets one and forgets all over it.
 */
import { NotFoundError } from "../errors.js";

/** The namespace every user's memories are under (then the user). */
export const MEMORY_NAMESPACE = ["memories"];

/** How many memories `/memory` lists at most, newest first. */
export const MEMORY_LIST_LIMIT = 100;

/** Items read per request while forgetting all of them. */
const CLEAR_BATCH = 100;

/** How many namespaces under ["memories"] (users) `/memory forget` looks in at most. */
const NAMESPACE_LIMIT = 1000;

/** A Store item as either backend reads it. */
export interface StoredItem {
  namespace: string[];
  key: string;
  value: Record<string, unknown>;
  updatedAt: Date | undefined;
}

/** The Store operations `/memory` needs, on a server or on the database. */
export interface MemoryStoreAccess {
  /** Items under `prefix`, in the store's order, a page at a time. */
  search(prefix: string[], options: { limit: number; offset: number }): Promise<StoredItem[]>;
  /** The namespaces under `prefix`. */
  listNamespaces(prefix: string[], options: { limit: number }): Promise<string[][]>;
  get(namespace: string[], key: string): Promise<StoredItem | null>;
  delete(namespace: string[], key: string): Promise<void>;
}

/** One remembered fact, as `/memory` lists it. */
export interface MemorySummary {
  /** Whose it is: the namespace after "memories" (the user). */
  user: string;
  key: string;
  /** The memory's `text`, or else its value as JSON. */
  text: string;
  updatedAt: Date | undefined;
}

/** What a memory says: its `text`, or else its whole value as JSON (items put by other code). */
export function memoryText(value: Record<string, unknown> | null | undefined): string {
  const text = value?.text;
  return typeof text === "string" ? text : JSON.stringify(value ?? null);
}

/** A namespace label as written: the agent percent-encodes the characters labels may not hold (`.`, `:`). */
function decodeLabel(label: string): string {
  try {
    return decodeURIComponent(label);
  } catch {
    return label;
  }
}

const toSummary = (item: StoredItem): MemorySummary => ({
  user: item.namespace.slice(MEMORY_NAMESPACE.length).map(decodeLabel).join("/"),
  key: item.key,
  text: memoryText(item.value),
  updatedAt: item.updatedAt,
});

/** The newest memories first, at most `limit`. */
export async function listMemories(store: MemoryStoreAccess, limit: number): Promise<MemorySummary[]> {
  const items = await store.search(MEMORY_NAMESPACE, { limit, offset: 0 });
  return items.map(toSummary).sort((a, b) => (b.updatedAt?.getTime() ?? 0) - (a.updatedAt?.getTime() ?? 0));
}

/**
 * Deletes the memory called `key` (of every user it is found under); resolves with how many were
 * deleted, and rejects with `NotFoundError` when none has that key.
 */
export async function forgetMemory(store: MemoryStoreAccess, key: string): Promise<number> {
  const namespaces = await store.listNamespaces(MEMORY_NAMESPACE, { limit: NAMESPACE_LIMIT });
  const found = (await Promise.all(namespaces.map((namespace) => store.get(namespace, key)))).filter((item): item is StoredItem => item !== null);
  if (found.length === 0) throw new NotFoundError(`No memory has the key ${JSON.stringify(key)}`);
  for (const item of found) await store.delete(item.namespace, item.key);
  return found.length;
}

/** Whether anything is remembered at all. */
export async function hasMemories(store: MemoryStoreAccess): Promise<boolean> {
  return (await store.search(MEMORY_NAMESPACE, { limit: 1, offset: 0 })).length > 0;
}

/** Deletes every memory; resolves with how many were deleted. */
export async function forgetAllMemories(store: MemoryStoreAccess): Promise<number> {
  const forgotten = new Set<string>();
  // Deleted items leave the search, so the first batch is read again until none is left.
  for (;;) {
    const batch = await store.search(MEMORY_NAMESPACE, { limit: CLEAR_BATCH, offset: 0 });
    if (batch.length === 0) return forgotten.size;
    const identity = (item: StoredItem) => JSON.stringify([item.namespace, item.key]);
    // Found again after being deleted: deleting does not work here; stop rather than spin.
    if (batch.every((item) => forgotten.has(identity(item)))) throw new Error("Some memories could not be deleted");
    for (const item of batch) {
      await store.delete(item.namespace, item.key);
      forgotten.add(identity(item));
    }
  }
}
