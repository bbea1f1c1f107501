import { PostgresCheckpointer } from "../graph/postgres-checkpointer.js";
import type { SqliteCheckpointer } from "../graph/sqlite-checkpointer.js";
import type { DocumentStore } from "./document-store.js";
import { PostgresDocumentStore } from "./postgres-document-store.js";
import { SqliteDocumentStore } from "./sqlite-document-store.js";

/** The document store in the checkpointer's own database: the same SQLite file or PostgreSQL schema. */
export function documentStoreBeside(checkpointer: SqliteCheckpointer | PostgresCheckpointer): DocumentStore {
  return checkpointer instanceof PostgresCheckpointer ? new PostgresDocumentStore(checkpointer.pool, { schema: checkpointer.schema }) : new SqliteDocumentStore(checkpointer.db);
}
