import type { LlmCacheOptions } from "../llm-cache.js";
import type { Storage } from "../storage.js";
import type { StoreIndexConfig } from "../store.js";
import { PostgresAssistants } from "./assistants.js";
import { PostgresCrons } from "./crons.js";
import { PostgresCheckpointer } from "./checkpointer.js";
import type { PostgresDatabase } from "./database.js";
import { PostgresDocumentStore } from "./document-store.js";
import { PostgresLlmCache } from "./llm-cache.js";
import { PostgresInstances } from "./instances.js";
import { PostgresRunEvents } from "./run-events.js";
import { PostgresRuns } from "./runs.js";
import { PostgresStore } from "./store.js";
import { PostgresThreads } from "./threads.js";
import { PostgresThreadEvents } from "./thread-events.js";

/**
 * Every part of storage in one PostgreSQL schema; closing the storage (or its checkpointer) ends
 * the pool when the database owns it. `location` names the server for log lines.
 */
export function postgresStorage(database: PostgresDatabase, options: { retention?: number; location?: string; storeIndex?: StoreIndexConfig } = {}): Storage {
  const checkpointer = new PostgresCheckpointer(database, { retention: options.retention, closesDatabase: true });
  const threads = new PostgresThreads(database);
  const threadEvents = new PostgresThreadEvents(database);
  const assistants = new PostgresAssistants(database);
  const runs = new PostgresRuns(database);
  const instances = new PostgresInstances(database);
  const runEvents = new PostgresRunEvents(database);
  const crons = new PostgresCrons(database);
  const documents = new PostgresDocumentStore(database);
  const store = new PostgresStore(database, { index: options.storeIndex });
  return {
    backend: "postgres",
    location: options.location ?? `PostgreSQL (schema ${database.schema})`,
    checkpointer,
    threads,
    assistants,
    runs,
    threadEvents,
    instances,
    runEvents,
    documents,
    crons,
    store,
    observeQueries: (observer) => database.observe(observer),
    createLlmCache: (cacheOptions: LlmCacheOptions) => new PostgresLlmCache(database, cacheOptions),
    async setup() {
      await checkpointer.setup();
      // One version table for threads, runs, instances (and run events): one setup migrates them all.
      await threads.setup();
      await assistants.setup();
      await documents.setup();
      // After the thread tables: a thread's crons refer to it.
      await crons.setup();
      await store.setup();
    },
    close: () => database.close(),
  };
}
