import type { Pool } from "pg";
import { inTransaction } from "../../graph/postgres-transaction.js";
import type {
  AbandonedRun,
  Run,
  RunEventStore,
  RunStatus,
  StoredRunEvent,
  Thread,
  ThreadFilter,
  ThreadSearch,
  ThreadStatus,
  ThreadStore,
} from "./thread-store.js";
import { MonotonicClock } from "../../monotonic-clock.js";

/** PostgreSQL's error code for a `NOWAIT` lock that another transaction holds. */
const LOCK_NOT_AVAILABLE = "55P03";

/** Numbered migrations, run under an advisory lock so instances starting together take turns. */
const MIGRATIONS = (schema: string): string[] => [
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
];

interface ThreadRow {
  thread_id: string;
  owner: string | null;
  metadata: Record<string, unknown>;
  status: string;
  created_at: Date;
  updated_at: Date;
}

interface RunRow {
  run_id: string;
  thread_id: string;
  assistant_id: string;
  status: string;
  metadata: Record<string, unknown>;
  kwargs: Record<string, unknown>;
  multitask_strategy: string;
  started: boolean;
  head_checkpoint_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const toThread = (row: ThreadRow): Thread => ({
  threadId: row.thread_id,
  owner: row.owner,
  metadata: row.metadata,
  status: row.status as ThreadStatus,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toRun = (row: RunRow): Run => ({
  runId: row.run_id,
  threadId: row.thread_id,
  assistantId: row.assistant_id,
  status: row.status as RunStatus,
  metadata: row.metadata,
  kwargs: row.kwargs,
  multitaskStrategy: row.multitask_strategy as Run["multitaskStrategy"],
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const SORT_COLUMNS = { thread_id: "thread_id", status: "status", created_at: "created_at", updated_at: "updated_at" } as const;
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Threads and runs on PostgreSQL, beside the checkpoints (same schema). Metadata is JSONB, so a
 * metadata filter compares JSON values as the SQLite store does.
 */
export class PostgresThreadStore implements ThreadStore, RunEventStore {
  readonly #pool: Pool;
  readonly #schema: string;
  /** Timestamps strictly increase within the process, so "newest first" is stable. */
  readonly #clock = new MonotonicClock();
  /** `holdThread` calls under way, and those waiting for a turn. */
  #holders = 0;
  readonly #holderWaits: Array<() => void> = [];

  constructor(pool: Pool, options: { schema?: string } = {}) {
    this.#pool = pool;
    this.#schema = options.schema ?? "public";
    if (!IDENTIFIER.test(this.#schema)) throw new Error(`Invalid schema name ${JSON.stringify(this.#schema)}`);
  }

  async setup(): Promise<void> {
    await inTransaction(this.#pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('stateful-agent:migrations'))");
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.#schema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#schema}.schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`);
      const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${this.#schema}.schema_migrations`);
      const migrations = MIGRATIONS(this.#schema);
      for (let version = (rows[0]?.version ?? 0) + 1; version <= migrations.length; version += 1) {
        await client.query(migrations[version - 1] as string);
        await client.query(`INSERT INTO ${this.#schema}.schema_migrations (version, applied_at) VALUES ($1, now())`, [version]);
      }
    });
  }

  #now(): Date {
    return this.#clock.now();
  }

  async createThread(thread: { threadId: string; metadata: Record<string, unknown>; owner?: string }): Promise<Thread | null> {
    const now = this.#now();
    const { rows } = await this.#pool.query<ThreadRow>(
      `INSERT INTO ${this.#schema}.threads (thread_id, owner, metadata, status, created_at, updated_at) VALUES ($1, $2, $3, 'idle', $4, $4)
       ON CONFLICT (thread_id) DO NOTHING RETURNING *`,
      [thread.threadId, thread.owner ?? null, JSON.stringify(thread.metadata), now],
    );
    return rows[0] ? toThread(rows[0]) : null;
  }

  async getThread(threadId: string, owner?: string): Promise<Thread | null> {
    const { rows } =
      owner === undefined
        ? await this.#pool.query<ThreadRow>(`SELECT * FROM ${this.#schema}.threads WHERE thread_id = $1`, [threadId])
        : await this.#pool.query<ThreadRow>(`SELECT * FROM ${this.#schema}.threads WHERE thread_id = $1 AND owner = $2`, [threadId, owner]);
    return rows[0] ? toThread(rows[0]) : null;
  }

  async updateThread(threadId: string, patch: { metadata?: Record<string, unknown>; status?: ThreadStatus }): Promise<Thread | null> {
    const entries = Object.entries(patch.metadata ?? {});
    const set = Object.fromEntries(entries.filter(([, value]) => value !== null));
    const removed = entries.filter(([, value]) => value === null).map(([key]) => key);
    // One statement: merge the keys, drop the ones set to null, keep the status unless given.
    const { rows } = await this.#pool.query<ThreadRow>(
      `UPDATE ${this.#schema}.threads SET metadata = (metadata || $2::jsonb) - $3::text[], status = coalesce($4, status), updated_at = $5
       WHERE thread_id = $1 RETURNING *`,
      [threadId, JSON.stringify(set), removed, patch.status ?? null, this.#now()],
    );
    return rows[0] ? toThread(rows[0]) : null;
  }

  async deleteThread(threadId: string): Promise<boolean> {
    return ((await this.#pool.query(`DELETE FROM ${this.#schema}.threads WHERE thread_id = $1`, [threadId])).rowCount ?? 0) > 0;
  }

  #where(filter: ThreadFilter): { sql: string; parameters: unknown[] } {
    const clauses: string[] = [];
    const parameters: unknown[] = [];
    const add = (clause: (...placeholders: string[]) => string, ...values: unknown[]) => {
      const placeholders = values.map((value) => {
        parameters.push(value);
        return `$${parameters.length}`;
      });
      clauses.push(clause(...placeholders));
    };
    if (filter.owner !== undefined) add((owner) => `owner = ${owner}`, filter.owner);
    for (const [key, value] of Object.entries(filter.metadata ?? {})) {
      // A missing key matches null, as in the SQLite store.
      add((name, json) => `coalesce(metadata -> ${name}, 'null'::jsonb) = ${json}::jsonb`, key, JSON.stringify(value));
    }
    if (filter.status) add((status) => `status = ${status}`, filter.status);
    if (filter.ids) add((ids) => `thread_id = ANY(${ids}::text[])`, filter.ids);
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "", parameters };
  }

  async searchThreads(search: ThreadSearch): Promise<Thread[]> {
    const { sql, parameters } = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    const { rows } = await this.#pool.query<ThreadRow>(
      `SELECT * FROM ${this.#schema}.threads ${sql} ORDER BY ${SORT_COLUMNS[search.sortBy]} ${direction}, thread_id ${direction}
       LIMIT $${parameters.length + 1} OFFSET $${parameters.length + 2}`,
      [...parameters, search.limit, search.offset],
    );
    return rows.map(toThread);
  }

  async countThreads(filter: ThreadFilter): Promise<number> {
    const { sql, parameters } = this.#where(filter);
    const { rows } = await this.#pool.query<{ count: string }>(`SELECT count(*) AS count FROM ${this.#schema}.threads ${sql}`, parameters);
    return Number(rows[0]?.count ?? 0);
  }

  async admitRun(run: Omit<Run, "updatedAt">, options: { exclusive: boolean }): Promise<{ run: Run; others: string[] } | { busyWith: string }> {
    return inTransaction(this.#pool, async (client) => {
      // The thread's row lock orders every instance's decisions about this thread. Not FOR
      // UPDATE: a run may be admitted while a state write holds the thread (`holdThread`).
      await client.query(`SELECT 1 FROM ${this.#schema}.threads WHERE thread_id = $1 FOR NO KEY UPDATE`, [run.threadId]);
      const { rows } = await client.query<{ run_id: string }>(
        `SELECT run_id FROM ${this.#schema}.runs WHERE thread_id = $1 AND status IN ('pending', 'running')`,
        [run.threadId],
      );
      const others = rows.map((row) => row.run_id);
      if (options.exclusive && others[0]) return { busyWith: others[0] };
      await client.query(
        `INSERT INTO ${this.#schema}.runs (run_id, thread_id, assistant_id, status, metadata, kwargs, multitask_strategy, created_at, updated_at, instance_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)`,
        [run.runId, run.threadId, run.assistantId, run.status, JSON.stringify(run.metadata), JSON.stringify(run.kwargs), run.multitaskStrategy, run.createdAt, run.instanceId ?? null],
      );
      return { run: { ...run, updatedAt: run.createdAt }, others };
    });
  }

  /** Older pending runs of the same instance do not count: its own queue orders them. */
  async claimRun(runId: string, threadId: string): Promise<boolean> {
    return inTransaction(this.#pool, async (client) => {
      // A locked thread (a state write holds it, another claim or admission is deciding): not yet.
      try {
        await client.query(`SELECT 1 FROM ${this.#schema}.threads WHERE thread_id = $1 FOR UPDATE NOWAIT`, [threadId]);
      } catch (error) {
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) return false;
        throw error;
      }
      const { rowCount } = await client.query(
        `UPDATE ${this.#schema}.runs SET status = 'running', updated_at = $3 WHERE run_id = $1 AND status = 'pending' AND NOT EXISTS (
           SELECT 1 FROM ${this.#schema}.runs AS other, ${this.#schema}.runs AS mine WHERE mine.run_id = $1 AND other.thread_id = $2 AND other.run_id <> $1
             AND (other.status = 'running' OR (other.status = 'pending' AND other.created_at < mine.created_at
                  AND other.instance_id IS DISTINCT FROM mine.instance_id)))`,
        [runId, threadId, this.#now()],
      );
      return (rowCount ?? 0) > 0;
    });
  }

  /**
   * Holds a KEY SHARE lock on the thread's row while `work` runs: `claimRun` (FOR UPDATE NOWAIT)
   * cannot take the thread meanwhile, on any instance, while admissions (FOR NO KEY UPDATE) and
   * status updates go on without waiting, so no connection waits on a holder. `work` needs a
   * second connection: at most half the pool is held at once, so holders cannot starve it.
   */
  async holdThread<T>(threadId: string, work: () => Promise<T>): Promise<{ value: T } | { busyWith: string }> {
    while (this.#holders >= Math.max(1, Math.floor((this.#pool.options.max ?? 10) / 2))) await new Promise<void>((resolve) => this.#holderWaits.push(resolve));
    this.#holders += 1;
    try {
      return await inTransaction(this.#pool, async (client) => {
        await client.query(`SELECT 1 FROM ${this.#schema}.threads WHERE thread_id = $1 FOR KEY SHARE`, [threadId]);
        const { rows } = await client.query<{ run_id: string }>(
          `SELECT run_id FROM ${this.#schema}.runs WHERE thread_id = $1 AND status IN ('pending', 'running') LIMIT 1`,
          [threadId],
        );
        if (rows[0]) return { busyWith: rows[0].run_id };
        return { value: await work() };
      });
    } finally {
      this.#holders -= 1;
      this.#holderWaits.shift()?.();
    }
  }

  async hasActiveRuns(threadId: string): Promise<boolean> {
    const { rows } = await this.#pool.query(`SELECT 1 FROM ${this.#schema}.runs WHERE thread_id = $1 AND status IN ('pending', 'running') LIMIT 1`, [threadId]);
    return rows.length > 0;
  }

  async requestCancel(runId: string, action: "interrupt" | "rollback"): Promise<void> {
    await this.#pool.query(`UPDATE ${this.#schema}.runs SET cancel_requested = $2 WHERE run_id = $1 AND status IN ('pending', 'running')`, [runId, action]);
  }

  async cancelRequests(instanceId: string): Promise<Array<{ runId: string; threadId: string; action: "interrupt" | "rollback" }>> {
    const { rows } = await this.#pool.query<{ run_id: string; thread_id: string; cancel_requested: "interrupt" | "rollback" }>(
      `SELECT run_id, thread_id, cancel_requested FROM ${this.#schema}.runs
       WHERE instance_id = $1 AND cancel_requested IS NOT NULL AND status IN ('pending', 'running')`,
      [instanceId],
    );
    return rows.map((row) => ({ runId: row.run_id, threadId: row.thread_id, action: row.cancel_requested }));
  }

  async settleThreadStatus(threadId: string, status: ThreadStatus): Promise<void> {
    await this.#pool.query(
      `UPDATE ${this.#schema}.threads AS threads SET status = $2, updated_at = $3 WHERE thread_id = $1
       AND NOT EXISTS (SELECT 1 FROM ${this.#schema}.runs AS runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))`,
      [threadId, status, this.#now()],
    );
  }

  async getRun(threadId: string, runId: string): Promise<Run | null> {
    const { rows } = await this.#pool.query<RunRow>(`SELECT * FROM ${this.#schema}.runs WHERE run_id = $1 AND thread_id = $2`, [runId, threadId]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async listRuns(threadId: string, options: { limit: number; offset: number; status?: RunStatus }): Promise<Run[]> {
    const { rows } = await this.#pool.query<RunRow>(
      `SELECT * FROM ${this.#schema}.runs WHERE thread_id = $1 AND ($2::text IS NULL OR status = $2)
       ORDER BY created_at DESC, run_id DESC LIMIT $3 OFFSET $4`,
      [threadId, options.status ?? null, options.limit, options.offset],
    );
    return rows.map(toRun);
  }

  async setRunStatus(runId: string, status: RunStatus, started?: { headCheckpointId: string | undefined }): Promise<void> {
    if (started) {
      await this.#pool.query(`UPDATE ${this.#schema}.runs SET status = $2, updated_at = $3, started = true, head_checkpoint_id = $4 WHERE run_id = $1`, [
        runId,
        status,
        this.#now(),
        started.headCheckpointId ?? null,
      ]);
    } else {
      await this.#pool.query(`UPDATE ${this.#schema}.runs SET status = $2, updated_at = $3 WHERE run_id = $1`, [runId, status, this.#now()]);
    }
  }

  async deleteRun(threadId: string, runId: string): Promise<boolean> {
    return ((await this.#pool.query(`DELETE FROM ${this.#schema}.runs WHERE run_id = $1 AND thread_id = $2`, [runId, threadId])).rowCount ?? 0) > 0;
  }

  /** Several instances share PostgreSQL: each one's heartbeat tells the others it is alive. */
  async registerInstance(instanceId: string): Promise<void> {
    await this.heartbeat(instanceId);
  }

  async heartbeat(instanceId: string): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#schema}.instances (instance_id, heartbeat_at) VALUES ($1, now())
       ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = now()`,
      [instanceId],
    );
  }

  async removeInstance(instanceId: string): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#schema}.instances WHERE instance_id = $1`, [instanceId]);
  }

  async takeAbandonedRuns(options: { self: string; staleMs: number }): Promise<AbandonedRun[]> {
    // Other instances may be alive: only runs of instances that stopped beating are abandoned.
    // `seen` is the run as this statement's snapshot found it; a survivor that took it meanwhile
    // changed `runs.instance_id`, which PostgreSQL re-checks on the locked row, so it is skipped.
    const { rows } = await this.#pool.query<RunRow>(
      `UPDATE ${this.#schema}.runs AS runs SET instance_id = $1
       FROM ${this.#schema}.runs AS seen
       LEFT JOIN ${this.#schema}.instances AS instances ON instances.instance_id = seen.instance_id
       WHERE runs.run_id = seen.run_id AND runs.instance_id IS NOT DISTINCT FROM seen.instance_id AND runs.status IN ('pending', 'running')
         AND seen.status IN ('pending', 'running') AND (seen.instance_id IS NULL OR seen.instance_id <> $1)
         AND (instances.instance_id IS NULL OR instances.heartbeat_at < now() - make_interval(secs => $2::double precision / 1000))
       RETURNING runs.*`,
      [options.self, options.staleMs],
    );
    return rows
      .sort((left, right) => left.created_at.getTime() - right.created_at.getTime())
      .map((row) => ({
        runId: row.run_id,
        threadId: row.thread_id,
        status: row.status as "pending" | "running",
        headCheckpointId: row.started ? row.head_checkpoint_id : undefined,
      }));
  }

  async closeAbandonedRuns(outcomes: Array<{ runId: string; status: RunStatus }>): Promise<void> {
    const now = this.#now();
    // One transaction, as on SQLite: no client may see a run settled while its thread is still
    // busy (a new run there would be refused with 409).
    await inTransaction(this.#pool, async (client) => {
      await client.query(
        `UPDATE ${this.#schema}.runs AS runs SET status = outcome.status, updated_at = $3
         FROM unnest($1::text[], $2::text[]) AS outcome(run_id, status) WHERE runs.run_id = outcome.run_id`,
        [outcomes.map((outcome) => outcome.runId), outcomes.map((outcome) => outcome.status), now],
      );
      await client.query(
        `UPDATE ${this.#schema}.threads AS threads SET status = 'idle', updated_at = $1 WHERE status = 'busy'
         AND NOT EXISTS (SELECT 1 FROM ${this.#schema}.runs AS runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))`,
        [now],
      );
    });
  }

  async appendRunEvents(runId: string, events: StoredRunEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#pool.query(
      `INSERT INTO ${this.#schema}.run_events (run_id, seq, event, data)
       SELECT $1, seq, event, data FROM unnest($2::int[], $3::text[], $4::text[]) AS e(seq, event, data) ON CONFLICT DO NOTHING`,
      [runId, events.map((event) => event.seq), events.map((event) => event.event), events.map((event) => event.data)],
    );
  }

  async runEventsAfter(runId: string, afterSeq: number): Promise<StoredRunEvent[]> {
    const { rows } = await this.#pool.query<StoredRunEvent>(
      `SELECT seq, event, data FROM ${this.#schema}.run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq`,
      [runId, afterSeq],
    );
    return rows;
  }

  async pruneRunEvents(olderThanMs: number): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#schema}.run_events WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)`, [olderThanMs]);
  }

  /** The pool belongs to whoever opened it. */
  async close(): Promise<void> {}
}
