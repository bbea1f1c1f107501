/**
 * Long-term memory: facts about a user that outlive a thread (name, preferences, goals, standing
 * instructions), kept as items of the LangGraph store a run is given (`config.store`) in the
 * namespace `["memories", <user>]`, each `{ text }` under a short key naming what it is about
 * (`name`, `diet`, `timezone`), so a new value of the same fact replaces the old one.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { AsyncBatchedStore, type BaseStore } from "@langchain/langgraph-checkpoint";
import type { TokenCounter } from "./token-counter.js";

/** First label of every memory namespace. */
export const MEMORIES_NAMESPACE = "memories";
/** The user of runs that name none (`configurable.user_id`): one local user. */
export const DEFAULT_USER = "local";

/** A memory's value in the store. */
export interface MemoryValue {
  text: string;
}

/** A memory as recall and extraction see it. */
export interface Memory {
  key: string;
  text: string;
}

/** Longest memory text kept, in characters: memories are single facts, not documents. */
export const MAX_MEMORY_CHARACTERS = 300;
/** Longest line one recalled memory takes in the prompt, in tokens (longer ones are cut). */
export const MEMORY_LINE_TOKENS = 80;
/** Introduces the recalled memories in the system prompt; tests look for it. */
export const MEMORY_HEADING =
  "What you remember about the user from earlier conversations (key: fact). Use it when it is relevant; it may be out of date if the user says otherwise:\n";

/**
 * The user of a run: `configurable.user_id` (the server sets it to the API key's owner when the
 * client names none), else `context.user_id`, else `DEFAULT_USER`.
 */
export function userOf(config: RunnableConfig | undefined): string {
  // LangGraph's runtime context (`context.user_id`, as `langgraph dev` passes it) when configurable names none.
  for (const value of [config?.configurable?.user_id, (config as { context?: { user_id?: unknown } } | undefined)?.context?.user_id]) {
    if (typeof value === "number") return String(value);
    if (typeof value === "string" && value.trim() !== "") return value;
  }
  return DEFAULT_USER;
}

/**
 * The namespace of a user's memories. Store labels may not hold `.`, `:` or NUL, which user ids
 * (e-mail addresses, say) do: those are percent-encoded, as is `%`, so distinct users stay distinct.
 */
export function memoryNamespace(user: string): string[] {
  const label = user.replace(/[%.:\0]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
  return [MEMORIES_NAMESPACE, label];
}

/**
 * The store of a run, as LangGraph gives it to nodes and tools (`config.store`), or undefined.
 * LangGraph wraps it in a batching store that stops when the run ends; the store underneath is
 * returned, so writes made after the run (memory extraction) still land.
 */
export function storeOf(config: RunnableConfig | undefined): BaseStore | undefined {
  const store = (config as { store?: BaseStore } | undefined)?.store;
  if (!store) return undefined;
  // The wrapped store is a protected field of AsyncBatchedStore; LangGraph's own `extractStore` reads it so.
  return store instanceof AsyncBatchedStore ? (store as unknown as { store: BaseStore }).store : store;
}

/** A memory's text as stored: one line, trimmed, at most `MAX_MEMORY_CHARACTERS`. */
export function cleanMemoryText(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, MAX_MEMORY_CHARACTERS);
}

/** A memory key as stored: lowercase words joined by `_`, at most 64 characters; "" when nothing is left. */
export function cleanMemoryKey(key: string): string {
  return key
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 64);
}

/** The memory an item holds, or undefined when its value is not a memory (another writer's item). */
export function memoryOf(item: { key: string; value: Record<string, unknown> }): Memory | undefined {
  const text: unknown = item.value.text;
  return typeof text === "string" && text.trim() !== "" ? { key: item.key, text } : undefined;
}

/** Longest query sent to the store's search: the start of a long message says what it is about. */
const MAX_QUERY_CHARACTERS = 2000;

/**
 * The user's memories most relevant to `query`, best first (full-text, plus vectors when the
 * store has embeddings), at most `limit`.
 */
export async function searchMemories(store: BaseStore, user: string, query: string, limit: number): Promise<Memory[]> {
  const trimmed = query.trim().slice(0, MAX_QUERY_CHARACTERS);
  const items = await store.search(memoryNamespace(user), { ...(trimmed === "" ? {} : { query: trimmed }), limit });
  return items.map(memoryOf).filter((memory): memory is Memory => memory !== undefined);
}

/** The prompt line of one memory, cut to `MEMORY_LINE_TOKENS`. */
export function memoryLine(counter: TokenCounter, memory: Memory): string {
  return counter.truncate(`- ${memory.key}: ${memory.text.replace(/\s+/g, " ").trim()}`, MEMORY_LINE_TOKENS);
}

/** The system prompt section of these memory lines; "" when there are none. */
export function memorySection(lines: readonly string[]): string {
  return lines.length === 0 ? "" : `${MEMORY_HEADING}${lines.join("\n")}`;
}

/**
 * Tokens `count` recalled memories can add to the system prompt: the heading, the blank line
 * joining it to the prompt, and `count` lines of at most `MEMORY_LINE_TOKENS`. The trim node
 * keeps this much free when it can, so memories do not crowd out the window.
 */
export function memoryReserveTokens(counter: TokenCounter, count: number): number {
  return count === 0 ? 0 : counter.countText(MEMORY_HEADING) + 2 + count * (MEMORY_LINE_TOKENS + 1);
}

/**
 * The section of the best-ranked memories whose prompt fits: `fits(section)` says whether the
 * whole prompt with that section is within budget. The lowest-ranked memories go first; with
 * no room at all the section is "".
 */
export function fitMemorySection(lines: readonly string[], fits: (section: string) => boolean): string {
  for (let count = lines.length; count > 0; count -= 1) {
    const section = memorySection(lines.slice(0, count));
    if (fits(section)) return section;
  }
  return "";
}
