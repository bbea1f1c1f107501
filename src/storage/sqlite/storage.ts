import type { LlmCacheOptions } from "../llm-cache.js";
import type { Storage } from "../storage.js";
import { SqliteCheckpointer } from "./checkpointer.js";
import type { SqliteDatabase } from "./database.js";
import { SqliteDocumentStore } from "./document-store.js";
import { SqliteLlmCache } from "./llm-cache.js";
import { SqliteThreadStore } from "./thread-store.js";

/** Every part of storage on one SQLite file; closing the storage (or its checkpointer) closes the file. */
export function sqliteStorage(database: SqliteDatabase, options: { retention?: number } = {}): Storage {
  const checkpointer = new SqliteCheckpointer(database, { retention: options.retention, closesDatabase: true });
  const threads = new SqliteThreadStore(database);
  const documents = new SqliteDocumentStore(database);
  return {
    backend: "sqlite",
    location: database.path,
    checkpointer,
    threads,
    documents,
    createLlmCache: (cacheOptions: LlmCacheOptions) => new SqliteLlmCache(database, cacheOptions),
    async setup() {
      await checkpointer.setup();
      await threads.setup();
      await documents.setup();
    },
    async close() {
      database.close();
    },
  };
}
