import type { Statement } from "better-sqlite3";
import { unpackJson } from "../compression.js";
import type { MigrationSet } from "../migrations.js";
import type { SqliteDatabase } from "./database.js";
import type { Run, RunStatus } from "../runs.js";
import type { Thread, ThreadStatus } from "../threads.js";

/** Threads, runs, instances and protocol events; numbered in `schema_migrations` since the first release. */
export const THREAD_MIGRATIONS: MigrationSet = {
  table: "schema_migrations",
  steps: [
  `CREATE TABLE threads (
     thread_id TEXT PRIMARY KEY,
     metadata TEXT NOT NULL DEFAULT '{}',
     status TEXT NOT NULL DEFAULT 'idle',
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX threads_created_at ON threads (created_at);
   CREATE TABLE runs (
     run_id TEXT PRIMARY KEY,
     thread_id TEXT NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
     assistant_id TEXT NOT NULL,
     status TEXT NOT NULL,
     metadata TEXT NOT NULL DEFAULT '{}',
     kwargs TEXT NOT NULL DEFAULT '{}',
     multitask_strategy TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX runs_thread ON runs (thread_id, created_at);`,
  // Where the thread was when a run started, so a run cut off by a crash can be undone.
  `ALTER TABLE runs ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE runs ADD COLUMN head_checkpoint_id TEXT;`,
  // Who owns a thread, when API keys are on.
  `ALTER TABLE threads ADD COLUMN owner TEXT;
   CREATE INDEX threads_owner ON threads (owner, created_at);`,
  // Which server instance runs a run, and when each instance last said it was alive.
  `ALTER TABLE runs ADD COLUMN instance_id TEXT;
   CREATE TABLE instances (instance_id TEXT PRIMARY KEY, heartbeat_at TEXT NOT NULL);`,
  // A cancel asked on one instance for a run that another one executes.
  `ALTER TABLE runs ADD COLUMN cancel_requested TEXT;`,
  // The process of each server instance, so a second server on the file can tell a live one from a crashed one.
  `ALTER TABLE instances ADD COLUMN pid INTEGER;`,
  // No table changes: from here on a run's kwargs may be deflated JSON (a BLOB, see packJson),
  // which earlier releases cannot read. Its number makes a later release that does not know it
  // refuse the file (NewerSchemaError) rather than fail on those rows; releases before this
  // runner existed (30e50ab and older) do not check, so there is no going back to them.
  `SELECT 1;`,
  // What `values` filters of thread search match: a projection of each thread's current values
  // (JSON text; NULL for threads of earlier releases until the server backfills them), and each
  // thread's TTL in minutes, the sweeper finding expired threads by the index.
  `ALTER TABLE threads ADD COLUMN state_values TEXT;
   ALTER TABLE threads ADD COLUMN ttl_minutes REAL;
   CREATE INDEX threads_expiry ON threads (updated_at) WHERE ttl_minutes IS NOT NULL;`,
  // The agent streaming protocol's events, numbered per thread across its runs (thread-events.ts).
  `CREATE TABLE thread_events (
     thread_id TEXT NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     run_id TEXT NOT NULL,
     event TEXT NOT NULL,
     PRIMARY KEY (thread_id, seq)
   ) WITHOUT ROWID;`,
  ],
};

export interface ThreadRow {
  thread_id: string;
  owner: string | null;
  metadata: string;
  status: string;
  created_at: string;
  updated_at: string;
  ttl_minutes: number | null;
}

export interface RunRow {
  run_id: string;
  thread_id: string;
  assistant_id: string;
  status: string;
  metadata: string;
  /** JSON text, or (from version 7 on) what `packJson` wrote. */
  kwargs: string | Uint8Array;
  multitask_strategy: string;
  created_at: string;
  updated_at: string;
}

export const toThread = (row: ThreadRow): Thread => ({
  threadId: row.thread_id,
  owner: row.owner,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  status: row.status as ThreadStatus,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
  ttlMinutes: row.ttl_minutes,
});

export const toRun = (row: RunRow): Run => ({
  runId: row.run_id,
  threadId: row.thread_id,
  assistantId: row.assistant_id,
  status: row.status as RunStatus,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  kwargs: unpackJson(row.kwargs) as Record<string, unknown>,
  multitaskStrategy: row.multitask_strategy as Run["multitaskStrategy"],
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

/** `$."key"`: a JSON path to one top-level key, whatever characters the key has. */
export const jsonPath = (key: string) => `$.${JSON.stringify(key)}`;

export const SORT_COLUMNS = { thread_id: "thread_id", status: "status", created_at: "created_at", updated_at: "updated_at" } as const;

/** What the repositories of threads, runs and instances share: the database, their migrations, the clock. */
export abstract class SqliteThreadTables {
  constructor(protected readonly database: SqliteDatabase) {}

  /** A prepared statement from the database's cache. */
  protected sql(source: string): Statement {
    return this.database.statement(source);
  }

  /** Creates or migrates the tables of threads, runs and instances (one version table for the three); idempotent. */
  async setup(): Promise<void> {
    this.database.migrate(THREAD_MIGRATIONS);
  }

  /** Timestamps strictly increase across the database's parts, so "newest first" is stable within one millisecond. */
  protected now(): string {
    return this.database.clock.now().toISOString();
  }

  /** Records a thread's values projection (see `ThreadRepository.setThreadValues`); whether the thread is there. */
  protected writeValues(threadId: string, values: Record<string, unknown>): boolean {
    return this.sql("UPDATE threads SET state_values = ?, updated_at = ? WHERE thread_id = ?").run(JSON.stringify(values), this.now(), threadId).changes > 0;
  }
}
