/**
 * The one place where our records become the LangGraph API's JSON: snake_case keys, ISO dates,
 * and messages as `{type, content, id, ...}` dicts rather than LangChain's constructor format.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import type { StateSnapshot } from "@langchain/langgraph";
import type { Item, SearchItem } from "@langchain/langgraph-checkpoint";
import type { Cron } from "../storage/crons.js";
import type { Run } from "../storage/runs.js";
import type { Thread } from "../storage/threads.js";
import type { Collection, SearchHit, StoredDocument } from "../storage/documents.js";

interface ToDict {
  toDict(): { type: string; data: Record<string, unknown> };
}
const hasToDict = (value: unknown): value is ToDict =>
  typeof value === "object" && value !== null && typeof (value as Partial<ToDict>).toDict === "function";

/**
 * Dicts of messages already converted, and their JSON once written. Messages come from the
 * checkpointer's cache as the same objects turn after turn, and `toDict` is costly, so a long
 * thread is not converted (or serialised, see `toWireJson`) again whole on every response.
 * Content is compared so that a message changed in place is converted anew.
 */
interface ConvertedMessage {
  content: unknown;
  dict: Record<string, unknown>;
  json?: string;
}
const converted = new WeakMap<object, ConvertedMessage>();

function convertedMessage(message: ToDict): ConvertedMessage {
  const content = (message as { content?: unknown }).content;
  const known = converted.get(message);
  if (known && known.content === content) return known;
  const { type, data } = message.toDict();
  const entry: ConvertedMessage = { content, dict: { ...data, type } };
  converted.set(message, entry);
  return entry;
}

/** Replaces LangChain messages (anything with `toDict`) by the API's flat message dicts. */
export function toWire(value: unknown): unknown {
  if (hasToDict(value)) return convertedMessage(value).dict;
  if (Array.isArray(value)) return value.map(toWire);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toWire(item)]));
  }
  return value;
}

/**
 * `JSON.stringify(toWire(values))` for a state's values, each message serialised once in its
 * life: a run's answer holds the whole thread, and all but the last turn's messages were in the
 * answer before.
 */
export function toWireJson(values: Record<string, unknown>): string {
  const members: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    let json: string | undefined;
    if (Array.isArray(value) && value.length > 0 && value.every(hasToDict)) {
      json = `[${value.map((message) => {
        const entry = convertedMessage(message);
        entry.json ??= JSON.stringify(entry.dict);
        return entry.json;
      })}]`;
    } else json = JSON.stringify(toWire(value)) as string | undefined;
    // As JSON.stringify does: members without a JSON value (undefined, functions) are left out.
    if (json !== undefined) members.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${members.join(",")}}`;
}

/** `{thread_id, checkpoint_ns, checkpoint_id, checkpoint_map}` of a config, or null. */
export function checkpointOf(config: RunnableConfig | undefined) {
  const configurable = config?.configurable;
  if (!configurable?.checkpoint_id) return null;
  return {
    thread_id: configurable.thread_id as string,
    checkpoint_ns: (configurable.checkpoint_ns as string | undefined) ?? "",
    checkpoint_id: configurable.checkpoint_id as string,
    checkpoint_map: (configurable.checkpoint_map as Record<string, unknown> | undefined) ?? null,
  };
}

/** A thread with its current values (read from the checkpointer by the caller). */
export function threadToWire(thread: Thread, values?: Record<string, unknown>) {
  return {
    thread_id: thread.threadId,
    created_at: thread.createdAt.toISOString(),
    updated_at: thread.updatedAt.toISOString(),
    metadata: thread.metadata,
    status: thread.status,
    config: {},
    values: values === undefined ? null : toWire(values),
    interrupts: {},
  };
}

export function runToWire(run: Run) {
  return {
    run_id: run.runId,
    thread_id: run.threadId,
    assistant_id: run.assistantId,
    created_at: run.createdAt.toISOString(),
    updated_at: run.updatedAt.toISOString(),
    status: run.status,
    metadata: run.metadata,
    kwargs: run.kwargs,
    multitask_strategy: run.multitaskStrategy,
  };
}

/** A LangGraph state snapshot as the API's ThreadState. */
export function stateToWire(state: StateSnapshot) {
  const checkpoint = checkpointOf(state.config);
  const parent = checkpointOf(state.parentConfig);
  return {
    values: toWire(state.values ?? {}),
    next: state.next,
    tasks: state.tasks.map((task) => ({
      id: task.id,
      name: task.name,
      error: task.error === undefined ? null : task.error instanceof Error ? task.error.message : String(task.error),
      interrupts: toWire(task.interrupts),
      path: task.path ?? null,
      checkpoint: null,
      state: null,
      result: task.result === undefined ? null : toWire(task.result),
    })),
    metadata: state.metadata ?? {},
    created_at: state.createdAt ?? null,
    checkpoint,
    parent_checkpoint: parent,
    checkpoint_id: checkpoint?.checkpoint_id ?? null,
    parent_checkpoint_id: parent?.checkpoint_id ?? null,
  };
}

/** The API's error payload: `{error: "ErrorName", message}`. */
export function errorToWire(error: unknown): { error: string; message: string } {
  if (error instanceof Error) return { error: error.name, message: error.message };
  return { error: "Error", message: typeof error === "string" ? error : JSON.stringify(error) };
}

export function collectionToWire(collection: Collection) {
  return {
    collection_id: collection.collectionId,
    name: collection.name,
    metadata: collection.metadata,
    created_at: collection.createdAt.toISOString(),
    document_count: collection.documentCount,
    chunk_count: collection.chunkCount,
  };
}

export function documentToWire(document: StoredDocument) {
  return {
    document_id: document.documentId,
    collection_id: document.collectionId,
    source: document.source,
    content_type: document.contentType,
    metadata: document.metadata,
    created_at: document.createdAt.toISOString(),
    characters: document.characters,
    chunk_count: document.chunkCount,
  };
}

export function hitToWire(hit: SearchHit) {
  return {
    chunk_id: hit.chunkId,
    document_id: hit.documentId,
    source: hit.source,
    position: hit.position,
    text: hit.text,
    score: hit.score,
    ranks: hit.ranks,
  };
}

/** A cron as the LangGraph API returns it (the SDK's `Cron`). */
export function cronToWire(cron: Cron) {
  const iso = (date: Date | null) => (date ? date.toISOString() : null);
  return {
    cron_id: cron.cronId,
    assistant_id: cron.assistantId,
    thread_id: cron.threadId,
    // Only stateless crons have one (the SDK's `on_run_completed?`).
    ...(cron.onRunCompleted === null ? {} : { on_run_completed: cron.onRunCompleted }),
    end_time: iso(cron.endTime),
    schedule: cron.schedule,
    timezone: cron.timezone,
    created_at: cron.createdAt.toISOString(),
    updated_at: cron.updatedAt.toISOString(),
    payload: cron.payload,
    user_id: cron.owner,
    next_run_date: iso(cron.nextRunDate),
    metadata: cron.metadata,
    enabled: cron.enabled,
  };
}

/** A store item as the LangGraph API returns it (the SDK's `Item`, with `score` for search results that have one). */
export function storeItemToWire(item: Item | SearchItem) {
  const score = (item as SearchItem).score;
  return {
    namespace: item.namespace,
    key: item.key,
    value: item.value,
    created_at: new Date(item.createdAt).toISOString(),
    updated_at: new Date(item.updatedAt).toISOString(),
    ...(score === undefined ? {} : { score }),
  };
}
