/**
 * The two storage backends for the contract suites of threads, runs, instances and run events:
 * one database per suite (a SQLite file in a temp folder, or a fresh PostgreSQL schema dropped
 * after), on which each `open()` is another `Storage`, as another server instance (PostgreSQL)
 * or another process on the file (SQLite) would have. PostgreSQL is skipped, loudly, when no
 * server answers.
 */
import { join } from "node:path";
import pg from "pg";
import { PostgresDatabase } from "../../src/storage/postgres/database.js";
import { postgresStorage } from "../../src/storage/postgres/storage.js";
import { SqliteDatabase } from "../../src/storage/sqlite/database.js";
import { sqliteStorage } from "../../src/storage/sqlite/storage.js";
import type { Storage } from "../../src/storage/storage.js";
import { makeTempDir, removeDir } from "./fixtures.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "./postgres.js";

/** One database, and what a test needs to do to it behind the storage's back. */
export interface StorageBackend {
  readonly name: "sqlite" | "postgres";
  /** Another storage on the database, set up: a second instance (PostgreSQL) or process (SQLite). */
  open(): Promise<Storage>;
  /** Sets an instance's last heartbeat `ms` before now, as if it had stopped beating then. */
  ageHeartbeat(instanceId: string, ms: number): Promise<void>;
  /** Closes every storage opened and removes the database. */
  dispose(): Promise<void>;
}

/** The SQLite file of a fresh temp folder. */
export function sqliteBackend(): StorageBackend {
  const dir = makeTempDir();
  const file = join(dir, "storage.sqlite");
  const opened: Storage[] = [];
  // A connection of the test's own, for what no storage part offers.
  let raw: SqliteDatabase | undefined;
  return {
    name: "sqlite",
    async open() {
      const storage = sqliteStorage(new SqliteDatabase(file));
      opened.push(storage);
      await storage.setup();
      return storage;
    },
    async ageHeartbeat(instanceId, ms) {
      raw ??= new SqliteDatabase(file);
      raw.connection.prepare("UPDATE instances SET heartbeat_at = ? WHERE instance_id = ?").run(new Date(Date.now() - ms).toISOString(), instanceId);
    },
    async dispose() {
      for (const storage of opened) await storage.close();
      raw?.close();
      removeDir(dir);
    },
  };
}

/** A fresh schema of the test server; each storage has its own pool, as each instance has. */
export function postgresBackend(): StorageBackend & { sql(text: string, values?: unknown[]): Promise<pg.QueryResult>; readonly schema: string } {
  const schema = schemaName();
  const opened: Storage[] = [];
  let raw: pg.Pool | undefined;
  const sql = (text: string, values: unknown[] = []) => {
    raw ??= new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    return raw.query(text, values);
  };
  return {
    name: "postgres",
    schema,
    sql,
    async open() {
      // Two connections at least: `holdThread` runs its work beside the one that holds the thread.
      const storage = postgresStorage(PostgresDatabase.connect(TEST_DATABASE_URL, { schema, poolSize: 3 }));
      opened.push(storage);
      await storage.setup();
      return storage;
    },
    async ageHeartbeat(instanceId, ms) {
      await sql(`UPDATE ${schema}.agent_instances SET heartbeat_at = now() - make_interval(secs => $2::double precision / 1000) WHERE instance_id = $1`, [instanceId, ms]);
    },
    async dispose() {
      for (const storage of opened) await storage.close();
      raw ??= new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
      await dropSchema(raw, schema);
      await raw.end();
    },
  };
}

/** Whether the PostgreSQL suites run (they are skipped, with a loud warning, when no server answers). */
export const postgresAvailable = await postgresReachable();

/** The backends to run a contract on, for `describe.each`; PostgreSQL only when a server answers. */
export const storageBackends: Array<[StorageBackend["name"], () => StorageBackend]> = [
  ["sqlite", sqliteBackend],
  ...(postgresAvailable ? [["postgres", postgresBackend] as [StorageBackend["name"], () => StorageBackend]] : []),
];
