import { PostgresCheckpointer } from "../../graph/postgres-checkpointer.js";
import type { SqliteCheckpointer } from "../../graph/sqlite-checkpointer.js";
import { PostgresThreadStore } from "./postgres-thread-store.js";
import { SqliteThreadStore } from "./sqlite-thread-store.js";
import type { ThreadStore } from "./thread-store.js";

/**
 * The thread store whose tables live beside `checkpointer`'s: on its SQLite connection (one file,
 * one backup) or in its PostgreSQL pool and schema. Closing the checkpointer closes both; call
 * `setup()` before use.
 */
export function threadStoreBeside(checkpointer: SqliteCheckpointer | PostgresCheckpointer): ThreadStore {
  return checkpointer instanceof PostgresCheckpointer
    ? new PostgresThreadStore(checkpointer.pool, { schema: checkpointer.schema })
    : new SqliteThreadStore(checkpointer.db);
}
