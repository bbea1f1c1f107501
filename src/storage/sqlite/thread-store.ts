import type { Statement } from "better-sqlite3";
import type { MigrationSet } from "../migrations.js";
import type { SqliteDatabase } from "./database.js";
import { DatabaseInUseError } from "../../errors.js";
import { isProcessAlive } from "../../process-alive.js";
import type { AbandonedRun, Run, RunStatus, Thread, ThreadFilter, ThreadSearch, ThreadStatus, ThreadStore } from "../thread-store.js";
import { MonotonicClock } from "../../monotonic-clock.js";

/** Threads, runs and instances; numbered in `schema_migrations` since the first release. */
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
  ],
};

interface ThreadRow {
  thread_id: string;
  owner: string | null;
  metadata: string;
  status: string;
  created_at: string;
  updated_at: string;
}

interface RunRow {
  run_id: string;
  thread_id: string;
  assistant_id: string;
  status: string;
  metadata: string;
  kwargs: string;
  multitask_strategy: string;
  created_at: string;
  updated_at: string;
}

const toThread = (row: ThreadRow): Thread => ({
  threadId: row.thread_id,
  owner: row.owner,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  status: row.status as ThreadStatus,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

const toRun = (row: RunRow): Run => ({
  runId: row.run_id,
  threadId: row.thread_id,
  assistantId: row.assistant_id,
  status: row.status as RunStatus,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  kwargs: JSON.parse(row.kwargs) as Record<string, unknown>,
  multitaskStrategy: row.multitask_strategy as Run["multitaskStrategy"],
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

/** `$."key"`: a JSON path to one top-level key, whatever characters the key has. */
const jsonPath = (key: string) => `$.${JSON.stringify(key)}`;

const SORT_COLUMNS = { thread_id: "thread_id", status: "status", created_at: "created_at", updated_at: "updated_at" } as const;

/**
 * Threads and runs in SQLite, in the same database file as the checkpoints (so one backup
 * holds everything). The connection is shared with the checkpointer; better-sqlite3 is
 * synchronous, so each method is one or a few short statements.
 */
export class SqliteThreadStore implements ThreadStore {
  readonly #database: SqliteDatabase;
  /** Timestamps strictly increase so that "newest first" is stable within one millisecond. */
  readonly #clock = new MonotonicClock();

  constructor(database: SqliteDatabase) {
    this.#database = database;
  }

  #sql(source: string): Statement {
    return this.#database.statement(source);
  }

  async setup(): Promise<void> {
    this.#database.migrate(THREAD_MIGRATIONS);
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  async createThread(thread: { threadId: string; metadata: Record<string, unknown>; owner?: string }): Promise<Thread | null> {
    const now = this.#now();
    const result = this.#sql("INSERT OR IGNORE INTO threads (thread_id, owner, metadata, status, created_at, updated_at) VALUES (?, ?, ?, 'idle', ?, ?)")
      .run(thread.threadId, thread.owner ?? null, JSON.stringify(thread.metadata), now, now);
    return result.changes === 0 ? null : this.getThread(thread.threadId);
  }

  async getThread(threadId: string, owner?: string): Promise<Thread | null> {
    const row = (
      owner === undefined
        ? this.#sql("SELECT * FROM threads WHERE thread_id = ?").get(threadId)
        : this.#sql("SELECT * FROM threads WHERE thread_id = ? AND owner = ?").get(threadId, owner)
    ) as ThreadRow | undefined;
    return row ? toThread(row) : null;
  }

  async updateThread(threadId: string, patch: { metadata?: Record<string, unknown>; status?: ThreadStatus }): Promise<Thread | null> {
    const update = this.#database.connection.transaction(() => {
      const row = this.#sql("SELECT * FROM threads WHERE thread_id = ?").get(threadId) as ThreadRow | undefined;
      if (!row) return null;
      const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
      for (const [key, value] of Object.entries(patch.metadata ?? {})) {
        if (value === null) delete metadata[key];
        else metadata[key] = value;
      }
      this.#sql("UPDATE threads SET metadata = ?, status = ?, updated_at = ? WHERE thread_id = ?")
        .run(JSON.stringify(metadata), patch.status ?? row.status, this.#now(), threadId);
      return this.#sql("SELECT * FROM threads WHERE thread_id = ?").get(threadId) as ThreadRow;
    });
    const row = update();
    return row ? toThread(row) : null;
  }

  async deleteThread(threadId: string): Promise<boolean> {
    return this.#sql("DELETE FROM threads WHERE thread_id = ?").run(threadId).changes > 0;
  }

  #where(filter: ThreadFilter): { sql: string; parameters: unknown[] } {
    const clauses: string[] = [];
    const parameters: unknown[] = [];
    if (filter.owner !== undefined) {
      clauses.push("owner = ?");
      parameters.push(filter.owner);
    }
    for (const [key, value] of Object.entries(filter.metadata ?? {})) {
      // Both sides go through json_extract, so true/1, objects and strings compare alike.
      clauses.push("json_extract(metadata, ?) IS json_extract(?, '$')");
      parameters.push(jsonPath(key), JSON.stringify(value));
    }
    if (filter.status) {
      clauses.push("status = ?");
      parameters.push(filter.status);
    }
    if (filter.ids) {
      clauses.push(`thread_id IN (${filter.ids.map(() => "?").join(", ") || "NULL"})`);
      parameters.push(...filter.ids);
    }
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "", parameters };
  }

  async searchThreads(search: ThreadSearch): Promise<Thread[]> {
    const { sql, parameters } = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    const rows = this.#sql(`SELECT * FROM threads ${sql} ORDER BY ${SORT_COLUMNS[search.sortBy]} ${direction}, thread_id ${direction} LIMIT ? OFFSET ?`)
      .all(...parameters, search.limit, search.offset) as ThreadRow[];
    return rows.map(toThread);
  }

  async countThreads(filter: ThreadFilter): Promise<number> {
    const { sql, parameters } = this.#where(filter);
    return (this.#sql(`SELECT count(*) AS count FROM threads ${sql}`).get(...parameters) as { count: number }).count;
  }

  async admitRun(run: Omit<Run, "updatedAt">, options: { exclusive: boolean }): Promise<{ run: Run; others: string[] } | { busyWith: string }> {
    return this.#database.connection
      .transaction(() => {
        const others = (this.#sql("SELECT run_id FROM runs WHERE thread_id = ? AND status IN ('pending', 'running')").all(run.threadId) as Array<{ run_id: string }>).map(
          (row) => row.run_id,
        );
        if (options.exclusive && others[0]) return { busyWith: others[0] };
        const created = run.createdAt.toISOString();
        this.#sql(
          `INSERT INTO runs (run_id, thread_id, assistant_id, status, metadata, kwargs, multitask_strategy, created_at, updated_at, instance_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(run.runId, run.threadId, run.assistantId, run.status, JSON.stringify(run.metadata), JSON.stringify(run.kwargs), run.multitaskStrategy, created, created, run.instanceId ?? null);
        return { run: { ...run, updatedAt: run.createdAt }, others };
      })
      .immediate();
  }

  /** Older pending runs of the same instance do not count: its own queue orders them. */
  async claimRun(runId: string, threadId: string): Promise<boolean> {
    const claimed = this.#sql(
      `UPDATE runs SET status = 'running', updated_at = @now WHERE run_id = @run AND status = 'pending' AND NOT EXISTS (
         SELECT 1 FROM runs AS other, runs AS mine WHERE mine.run_id = @run AND other.thread_id = @thread AND other.run_id <> @run
           AND (other.status = 'running' OR (other.status = 'pending' AND other.created_at < mine.created_at
                AND other.instance_id IS NOT mine.instance_id)))`,
    ).run({ now: this.#now(), run: runId, thread: threadId });
    return claimed.changes > 0;
  }

  /**
   * One server process owns the file: its RunManager's per-thread slot keeps its own runs out
   * while `work` runs; this only refuses a run the database still shows as unfinished.
   */
  async holdThread<T>(threadId: string, work: () => Promise<T>): Promise<{ value: T } | { busyWith: string }> {
    const active = this.#sql("SELECT run_id FROM runs WHERE thread_id = ? AND status IN ('pending', 'running') LIMIT 1").get(threadId) as { run_id: string } | undefined;
    if (active) return { busyWith: active.run_id };
    return { value: await work() };
  }

  async hasActiveRuns(threadId: string): Promise<boolean> {
    return this.#sql("SELECT 1 FROM runs WHERE thread_id = ? AND status IN ('pending', 'running') LIMIT 1").get(threadId) !== undefined;
  }

  async requestCancel(runId: string, action: "interrupt" | "rollback"): Promise<void> {
    this.#sql("UPDATE runs SET cancel_requested = ? WHERE run_id = ? AND status IN ('pending', 'running')").run(action, runId);
  }

  async cancelRequests(instanceId: string): Promise<Array<{ runId: string; threadId: string; action: "interrupt" | "rollback" }>> {
    const rows = this.#sql(
      "SELECT run_id, thread_id, cancel_requested FROM runs WHERE instance_id = ? AND cancel_requested IS NOT NULL AND status IN ('pending', 'running')",
    ).all(instanceId) as Array<{ run_id: string; thread_id: string; cancel_requested: "interrupt" | "rollback" }>;
    return rows.map((row) => ({ runId: row.run_id, threadId: row.thread_id, action: row.cancel_requested }));
  }

  async settleThreadStatus(threadId: string, status: ThreadStatus): Promise<void> {
    this.#sql(
      `UPDATE threads SET status = ?, updated_at = ? WHERE thread_id = ?
       AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))`,
    ).run(status, this.#now(), threadId);
  }

  async getRun(threadId: string, runId: string): Promise<Run | null> {
    const row = this.#sql("SELECT * FROM runs WHERE run_id = ? AND thread_id = ?").get(runId, threadId) as RunRow | undefined;
    return row ? toRun(row) : null;
  }

  async listRuns(threadId: string, options: { limit: number; offset: number; status?: RunStatus }): Promise<Run[]> {
    const rows = this.#sql(
        `SELECT * FROM runs WHERE thread_id = ? ${options.status ? "AND status = ?" : ""}
         ORDER BY created_at DESC, run_id DESC LIMIT ? OFFSET ?`,
      )
      .all(...[threadId, ...(options.status ? [options.status] : []), options.limit, options.offset]) as RunRow[];
    return rows.map(toRun);
  }

  async setRunStatus(runId: string, status: RunStatus, started?: { headCheckpointId: string | undefined }): Promise<void> {
    if (started) {
      this.#sql("UPDATE runs SET status = ?, updated_at = ?, started = 1, head_checkpoint_id = ? WHERE run_id = ?").run(
        status,
        this.#now(),
        started.headCheckpointId ?? null,
        runId,
      );
    } else {
      this.#sql("UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?").run(status, this.#now(), runId);
    }
  }

  async deleteRun(threadId: string, runId: string): Promise<boolean> {
    return this.#sql("DELETE FROM runs WHERE run_id = ? AND thread_id = ?").run(runId, threadId).changes > 0;
  }

  async registerInstance(instanceId: string, options: { pid: number; staleMs: number }): Promise<void> {
    const now = Date.now();
    // IMMEDIATE: two servers starting at once cannot both find the file free.
    this.#database.connection
      .transaction(() => {
        const others = this.#sql("SELECT instance_id, heartbeat_at, pid FROM instances WHERE instance_id <> ?").all(instanceId) as Array<{
          instance_id: string;
          heartbeat_at: string;
          pid: number | null;
        }>;
        // A crashed server leaves its row: it is stale soon, and its process is gone at once.
        // (No pid: a server of an earlier release, alive as long as it beats.)
        const live = others.find((other) => Date.parse(other.heartbeat_at) > now - options.staleMs && (other.pid === null || isProcessAlive(other.pid)));
        if (live) {
          throw new DatabaseInUseError(
            `Another server is using the database in ${this.#database.directory} (instance ${live.instance_id}, pid ${live.pid ?? "unknown"}); stop it or use another DATA_DIR`,
          );
        }
        this.#sql("INSERT INTO instances (instance_id, heartbeat_at, pid) VALUES (?, ?, ?) ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, pid = excluded.pid").run(
          instanceId,
          new Date(now).toISOString(),
          options.pid,
        );
      })
      .immediate();
  }

  async heartbeat(instanceId: string): Promise<void> {
    this.#sql("INSERT INTO instances (instance_id, heartbeat_at) VALUES (?, ?) ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at").run(
      instanceId,
      new Date().toISOString(),
    );
  }

  async removeInstance(instanceId: string): Promise<void> {
    this.#sql("DELETE FROM instances WHERE instance_id = ?").run(instanceId);
  }

  async takeAbandonedRuns(options: { self: string; staleMs: number }): Promise<AbandonedRun[]> {
    // One server process per SQLite file (`registerInstance` sees to it): every other instance's
    // runs are abandoned. One statement, so atomic.
    const rows = this.#sql(
      `UPDATE runs SET instance_id = @self WHERE status IN ('pending', 'running') AND (instance_id IS NULL OR instance_id <> @self)
       RETURNING run_id, thread_id, status, started, head_checkpoint_id, created_at`,
    ).all({ self: options.self }) as Array<{ run_id: string; thread_id: string; status: "pending" | "running"; started: number; head_checkpoint_id: string | null; created_at: string }>;
    return rows
      .sort((left, right) => left.created_at.localeCompare(right.created_at))
      .map((row) => ({
        runId: row.run_id,
        threadId: row.thread_id,
        status: row.status,
        headCheckpointId: row.started ? row.head_checkpoint_id : undefined,
      }));
  }

  async closeAbandonedRuns(outcomes: Array<{ runId: string; status: RunStatus }>): Promise<void> {
    this.#database.connection.transaction(() => {
      const now = this.#now();
      for (const { runId, status } of outcomes) this.#sql("UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?").run(status, now, runId);
      this.#sql(
        `UPDATE threads SET status = 'idle', updated_at = ? WHERE status = 'busy'
         AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))`,
      ).run(now);
    })();
  }

  /** The database is shared with every other part of storage; its owner closes it. */
  async close(): Promise<void> {
  }
}
