import type { LlmCacheOptions } from "../llm-cache.js";
import type { Storage } from "../storage.js";
import type { StoreIndexConfig } from "../store.js";
import { SqliteAssistants } from "./assistants.js";
import { SqliteCrons } from "./crons.js";
import { SqliteCheckpointer } from "./checkpointer.js";
import type { SqliteDatabase } from "./database.js";
import { SqliteDocumentStore } from "./document-store.js";
import { SqliteLlmCache } from "./llm-cache.js";
import { SqliteInstances } from "./instances.js";
import { SqliteRuns } from "./runs.js";
import { SqliteStore } from "./store.js";
import { SqliteThreads } from "./threads.js";
import { SqliteThreadEvents } from "./thread-events.js";

/** Every part of storage on one SQLite file; closing the storage (or its checkpointer) closes the file. */
export function sqliteStorage(database: SqliteDatabase, options: { retention?: number; location?: string; storeIndex?: StoreIndexConfig } = {}): Storage {
  const checkpointer = new SqliteCheckpointer(database, { retention: options.retention, closesDatabase: true });
  const threads = new SqliteThreads(database);
  const threadEvents = new SqliteThreadEvents(database);
  const assistants = new SqliteAssistants(database);
  const runs = new SqliteRuns(database);
  const instances = new SqliteInstances(database);
  const crons = new SqliteCrons(database);
  const documents = new SqliteDocumentStore(database);
  const store = new SqliteStore(database, { index: options.storeIndex });
  return {
    backend: "sqlite",
    location: options.location ?? `the SQLite database ${database.path}`,
    checkpointer,
    threads,
    assistants,
    runs,
    threadEvents,
    instances,
    documents,
    crons,
    store,
    observeQueries: (observer) => database.observe(observer),
    createLlmCache: (cacheOptions: LlmCacheOptions) => new SqliteLlmCache(database, cacheOptions),
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
    async close() {
      database.close();
    },
  };
}
