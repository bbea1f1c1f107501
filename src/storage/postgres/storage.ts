import type { LlmCacheOptions } from "../llm-cache.js";
import type { Storage } from "../storage.js";
import { PostgresCheckpointer } from "./checkpointer.js";
import type { PostgresDatabase } from "./database.js";
import { PostgresDocumentStore } from "./document-store.js";
import { PostgresLlmCache } from "./llm-cache.js";
import { PostgresThreadStore } from "./thread-store.js";

/**
 * Every part of storage in one PostgreSQL schema; closing the storage (or its checkpointer) ends
 * the pool when the database owns it. `location` names the server for log lines.
 */
export function postgresStorage(database: PostgresDatabase, options: { retention?: number; location?: string } = {}): Storage {
  const checkpointer = new PostgresCheckpointer(database, { retention: options.retention, closesDatabase: true });
  const threads = new PostgresThreadStore(database);
  const documents = new PostgresDocumentStore(database);
  return {
    backend: "postgres",
    location: options.location ?? `PostgreSQL (schema ${database.schema})`,
    checkpointer,
    threads,
    documents,
    createLlmCache: (cacheOptions: LlmCacheOptions) => new PostgresLlmCache(database, cacheOptions),
    async setup() {
      await checkpointer.setup();
      await threads.setup();
      await documents.setup();
    },
    close: () => database.close(),
  };
}
