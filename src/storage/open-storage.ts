/**
 * The one place that names a backend: PostgreSQL when `DATABASE_URL` is set, else the SQLite
 * file in `DATA_DIR`.
 */
import type { Config } from "../config.js";
import type { DocumentStore } from "./document-store.js";
import { PostgresDatabase } from "./postgres/database.js";
import { PostgresDocumentStore } from "./postgres/document-store.js";
import { postgresStorage } from "./postgres/storage.js";
import { SqliteDatabase } from "./sqlite/database.js";
import { SqliteDocumentStore } from "./sqlite/document-store.js";
import { sqliteStorage } from "./sqlite/storage.js";
import type { Storage } from "./storage.js";
import type { StoreIndexConfig } from "./store.js";

/** A database URL fit for a log line: host, port and database, never the password. */
function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
}

/**
 * The storage the configuration describes, opened but not set up: call `setup()` before serving
 * (a server does, so an unreachable database fails the start rather than the first turn).
 * `storeIndex` gives the Store semantic search (the embeddings model of `EMBEDDING_MODEL`).
 */
export function openStorage(config: Pick<Config, "DATABASE_URL" | "DATABASE_POOL_SIZE" | "DATABASE_SCHEMA" | "DATA_DIR" | "CHECKPOINT_RETENTION">, options: { storeIndex?: StoreIndexConfig } = {}): Storage {
  const retention = config.CHECKPOINT_RETENTION;
  if (config.DATABASE_URL) {
    const database = PostgresDatabase.connect(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE, schema: config.DATABASE_SCHEMA });
    return postgresStorage(database, { retention, storeIndex: options.storeIndex, location: `PostgreSQL at ${describeDatabaseUrl(config.DATABASE_URL)} (DATABASE_URL)` });
  }
  return sqliteStorage(SqliteDatabase.inDirectory(config.DATA_DIR), { retention, storeIndex: options.storeIndex, location: `the SQLite database in ${config.DATA_DIR}` });
}

/**
 * The document store in a checkpointer's own database: the same SQLite file or PostgreSQL schema.
 * Kept for code written against earlier releases; `openStorage(config).documents` is the same.
 */
export function documentStoreBeside(checkpointer: { database: SqliteDatabase | PostgresDatabase }): DocumentStore {
  const { database } = checkpointer;
  return database.backend === "postgres" ? new PostgresDocumentStore(database) : new SqliteDocumentStore(database);
}
