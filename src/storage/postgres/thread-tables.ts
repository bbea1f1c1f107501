import { unpackJson } from "../compression.js";
import type { MigrationSet } from "../migrations.js";
import type { PoolClient } from "pg";
import type { PostgresDatabase } from "./database.js";
import type { Run, RunStatus } from "../runs.js";
import type { Thread, ThreadStatus } from "../threads.js";

/** PostgreSQL's error code for a `NOWAIT` lock that another transaction holds. */
export const LOCK_NOT_AVAILABLE = "55P03";

/** SQL that is true when `schema.table` has `column`. */
const hasColumn = (schema: string, table: string, column: string) =>
  `EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = '${table}' AND column_name = '${column}')`;

/**
 * Threads, runs, instances and run events. Releases before version 5 named these tables without
 * the service's prefix and numbered them in `schema_migrations`, a name other tools use too: in
 * a shared schema, another tool's `schema_migrations` made setup skip migrations. They are
 * numbered in `agent_thread_migrations` now; tables of an earlier release are recognised by their
 * columns (never by `schema_migrations`, which stays as it was), and version 5 gives them the
 * prefix. A new install creates the newest tables at once (`baseline`).
 */
export const threadMigrations = (schema: string): MigrationSet => ({
  table: "agent_thread_migrations",
  adopt: `SELECT CASE
      WHEN ${hasColumn(schema, "runs", "multitask_strategy")} AND ${hasColumn(schema, "threads", "owner")} THEN
        CASE
          WHEN ${hasColumn(schema, "run_events", "seq")} THEN 4
          WHEN ${hasColumn(schema, "runs", "cancel_requested")} THEN 3
          WHEN ${hasColumn(schema, "runs", "instance_id")} THEN 2
          ELSE 1
        END
      ELSE 0
    END AS version`,
  baseline: `CREATE TABLE ${schema}.agent_threads (
     thread_id TEXT COLLATE "C" PRIMARY KEY,
     owner TEXT,
     metadata JSONB NOT NULL DEFAULT '{}',
     status TEXT NOT NULL DEFAULT 'idle',
     created_at TIMESTAMPTZ NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL,
     state_values JSONB,
     ttl_minutes DOUBLE PRECISION
   );
   CREATE INDEX agent_threads_owner_created ON ${schema}.agent_threads (owner, created_at);
   CREATE INDEX agent_threads_state_values ON ${schema}.agent_threads USING GIN (state_values jsonb_path_ops);
   CREATE TABLE ${schema}.agent_runs (
     run_id TEXT COLLATE "C" PRIMARY KEY,
     thread_id TEXT COLLATE "C" NOT NULL REFERENCES ${schema}.agent_threads (thread_id) ON DELETE CASCADE,
     assistant_id TEXT NOT NULL,
     status TEXT NOT NULL,
     metadata JSONB NOT NULL DEFAULT '{}',
     kwargs BYTEA NOT NULL DEFAULT '\\x7b7d',
     multitask_strategy TEXT NOT NULL,
     started BOOLEAN NOT NULL DEFAULT false,
     head_checkpoint_id TEXT COLLATE "C",
     created_at TIMESTAMPTZ NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL,
     instance_id TEXT,
     cancel_requested TEXT
   );
   CREATE INDEX agent_runs_thread_created ON ${schema}.agent_runs (thread_id, created_at);
   CREATE TABLE ${schema}.agent_instances (instance_id TEXT PRIMARY KEY, heartbeat_at TIMESTAMPTZ NOT NULL);
   CREATE TABLE ${schema}.agent_run_events (
     run_id TEXT COLLATE "C" NOT NULL,
     seq INTEGER NOT NULL,
     event TEXT NOT NULL,
     data TEXT NOT NULL,
     created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
     PRIMARY KEY (run_id, seq)
   );
   CREATE INDEX agent_run_events_created ON ${schema}.agent_run_events (created_at);
   CREATE TABLE ${schema}.agent_thread_events (
     thread_id TEXT COLLATE "C" NOT NULL REFERENCES ${schema}.agent_threads (thread_id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     run_id TEXT COLLATE "C" NOT NULL,
     event TEXT NOT NULL,
     PRIMARY KEY (thread_id, seq)
   );`,
  steps: [
  `CREATE TABLE ${schema}.threads (
     thread_id TEXT COLLATE "C" PRIMARY KEY,
     owner TEXT,
     metadata JSONB NOT NULL DEFAULT '{}',
     status TEXT NOT NULL DEFAULT 'idle',
     created_at TIMESTAMPTZ NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL
   );
   CREATE INDEX threads_owner_created ON ${schema}.threads (owner, created_at);
   CREATE TABLE ${schema}.runs (
     run_id TEXT COLLATE "C" PRIMARY KEY,
     thread_id TEXT COLLATE "C" NOT NULL REFERENCES ${schema}.threads (thread_id) ON DELETE CASCADE,
     assistant_id TEXT NOT NULL,
     status TEXT NOT NULL,
     metadata JSONB NOT NULL DEFAULT '{}',
     kwargs JSONB NOT NULL DEFAULT '{}',
     multitask_strategy TEXT NOT NULL,
     started BOOLEAN NOT NULL DEFAULT false,
     head_checkpoint_id TEXT COLLATE "C",
     created_at TIMESTAMPTZ NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL
   );
   CREATE INDEX runs_thread_created ON ${schema}.runs (thread_id, created_at);`,
  // Which server instance runs a run, and when each instance last said it was alive.
  `ALTER TABLE ${schema}.runs ADD COLUMN instance_id TEXT;
   CREATE TABLE ${schema}.instances (instance_id TEXT PRIMARY KEY, heartbeat_at TIMESTAMPTZ NOT NULL);`,
  // A cancel asked on one instance for a run that another one executes.
  `ALTER TABLE ${schema}.runs ADD COLUMN cancel_requested TEXT;`,
  // Run events relayed to instances that join a run's stream without executing it.
  `CREATE TABLE ${schema}.run_events (
     run_id TEXT COLLATE "C" NOT NULL,
     seq INTEGER NOT NULL,
     event TEXT NOT NULL,
     data TEXT NOT NULL,
     created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
     PRIMARY KEY (run_id, seq)
   );
   CREATE INDEX run_events_created ON ${schema}.run_events (created_at);`,
  // The service's prefix on every table, index and constraint.
  `ALTER TABLE ${schema}.threads RENAME TO agent_threads;
   ALTER INDEX ${schema}.threads_pkey RENAME TO agent_threads_pkey;
   ALTER INDEX ${schema}.threads_owner_created RENAME TO agent_threads_owner_created;
   ALTER TABLE ${schema}.runs RENAME TO agent_runs;
   ALTER INDEX ${schema}.runs_pkey RENAME TO agent_runs_pkey;
   ALTER INDEX ${schema}.runs_thread_created RENAME TO agent_runs_thread_created;
   ALTER TABLE ${schema}.agent_runs RENAME CONSTRAINT runs_thread_id_fkey TO agent_runs_thread_id_fkey;
   ALTER TABLE ${schema}.instances RENAME TO agent_instances;
   ALTER INDEX ${schema}.instances_pkey RENAME TO agent_instances_pkey;
   ALTER TABLE ${schema}.run_events RENAME TO agent_run_events;
   ALTER INDEX ${schema}.run_events_pkey RENAME TO agent_run_events_pkey;
   ALTER INDEX ${schema}.run_events_created RENAME TO agent_run_events_created;`,
  // A run's kwargs as `packJson` writes them (deflated when that is smaller): they repeat the
  // run's input, so they were most of the table. Rows written before stay plain JSON.
  `ALTER TABLE ${schema}.agent_runs ALTER COLUMN kwargs DROP DEFAULT;
   ALTER TABLE ${schema}.agent_runs ALTER COLUMN kwargs TYPE BYTEA USING convert_to(kwargs::text, 'UTF8');
   ALTER TABLE ${schema}.agent_runs ALTER COLUMN kwargs SET DEFAULT '\\x7b7d';`,
  // What `values` filters of thread search match: a projection of each thread's current values
  // (NULL for threads of earlier releases until the server backfills them), found by `@>`
  // through the GIN index; and each thread's TTL in minutes. No index on updated_at for the
  // sweeper: it would make every status update of a thread a non-HOT one; the sweep reads
  // thread rows (never checkpoints) every few minutes instead.
  `ALTER TABLE ${schema}.agent_threads ADD COLUMN state_values JSONB;
   ALTER TABLE ${schema}.agent_threads ADD COLUMN ttl_minutes DOUBLE PRECISION;
   CREATE INDEX agent_threads_state_values ON ${schema}.agent_threads USING GIN (state_values jsonb_path_ops);`,
  // The agent streaming protocol's events, numbered per thread across its runs (thread-events.ts).
  `CREATE TABLE ${schema}.agent_thread_events (
     thread_id TEXT COLLATE "C" NOT NULL REFERENCES ${schema}.agent_threads (thread_id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     run_id TEXT COLLATE "C" NOT NULL,
     event TEXT NOT NULL,
     PRIMARY KEY (thread_id, seq)
   );`,
  ],
});


export interface ThreadRow {
  thread_id: string;
  owner: string | null;
  metadata: Record<string, unknown>;
  status: string;
  created_at: Date;
  updated_at: Date;
  ttl_minutes: number | null;
}

export interface RunRow {
  run_id: string;
  thread_id: string;
  assistant_id: string;
  status: string;
  metadata: Record<string, unknown>;
  /** What `packJson` wrote (plain JSON in rows of earlier releases). */
  kwargs: Uint8Array;
  multitask_strategy: string;
  started: boolean;
  head_checkpoint_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export const toThread = (row: ThreadRow): Thread => ({
  threadId: row.thread_id,
  owner: row.owner,
  metadata: row.metadata,
  status: row.status as ThreadStatus,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  ttlMinutes: row.ttl_minutes,
});

export const toRun = (row: RunRow): Run => ({
  runId: row.run_id,
  threadId: row.thread_id,
  assistantId: row.assistant_id,
  status: row.status as RunStatus,
  metadata: row.metadata,
  kwargs: unpackJson(row.kwargs) as Record<string, unknown>,
  multitaskStrategy: row.multitask_strategy as Run["multitaskStrategy"],
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const SORT_COLUMNS = { thread_id: "thread_id", status: "status", created_at: "created_at", updated_at: "updated_at" } as const;

/** What the repositories of threads, runs, instances and run events share: the database, their migrations, the clock. */
export abstract class PostgresThreadTables {
  /** Validated by the database, so it may be written into SQL. */
  protected readonly schema: string;

  constructor(protected readonly database: PostgresDatabase) {
    this.schema = database.schema;
  }

  /** Creates or migrates the tables of threads, runs, instances and run events (one version table for them); idempotent. */
  setup(): Promise<void> {
    return this.database.migrate(threadMigrations(this.schema));
  }

  /** Timestamps strictly increase within the process, so "newest first" is stable. */
  protected now(): Date {
    return this.database.clock.now();
  }

  /** Records a thread's values projection (see `ThreadRepository.setThreadValues`), on the pool or on a transaction's client. */
  protected async writeValues(threadId: string, values: Record<string, unknown>, client?: PoolClient): Promise<boolean> {
    const sql = `UPDATE ${this.schema}.agent_threads SET state_values = $2, updated_at = $3 WHERE thread_id = $1`;
    const parameters = [threadId, JSON.stringify(values), this.now()];
    const { rowCount } = client ? await client.query(sql, parameters) : await this.database.query(sql, parameters);
    return (rowCount ?? 0) > 0;
  }
}
