import { packJson } from "../compression.js";
import type { AbandonedRun, Run, RunRepository, RunStatus } from "../runs.js";
import type { ThreadStatus } from "../threads.js";
import { LOCK_NOT_AVAILABLE, type RunRow, PostgresThreadTables, toRun } from "./thread-tables.js";

/** Runs on PostgreSQL: admission, the per-thread queue, cancels, settling, and runs a dead instance left. */
export class PostgresRuns extends PostgresThreadTables implements RunRepository {
  /** `holdThread` calls under way, and those waiting for a turn. */
  #holders = 0;
  readonly #holderWaits: Array<() => void> = [];

  async admitRun(
    run: Omit<Run, "updatedAt">,
    options: { exclusive: boolean; threadBusy?: { metadata: Record<string, string> } },
  ): Promise<{ run: Run; others: string[] } | { busyWith: string }> {
    return this.database.transaction(async (client) => {
      // The thread's row lock orders every instance's decisions about this thread. Not FOR
      // UPDATE: a run may be admitted while a state write holds the thread (`holdThread`).
      await client.query(`SELECT 1 FROM ${this.schema}.agent_threads WHERE thread_id = $1 FOR NO KEY UPDATE`, [run.threadId]);
      const { rows } = await client.query<{ run_id: string }>(
        `SELECT run_id FROM ${this.schema}.agent_runs WHERE thread_id = $1 AND status IN ('pending', 'running')`,
        [run.threadId],
      );
      const others = rows.map((row) => row.run_id);
      if (options.exclusive && others[0]) return { busyWith: others[0] };
      await client.query(
        `INSERT INTO ${this.schema}.agent_runs (run_id, thread_id, assistant_id, status, metadata, kwargs, multitask_strategy, created_at, updated_at, instance_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)`,
        [run.runId, run.threadId, run.assistantId, run.status, JSON.stringify(run.metadata), packJson(run.kwargs), run.multitaskStrategy, run.createdAt, run.instanceId ?? null],
      );
      if (options.threadBusy) {
        await client.query(`UPDATE ${this.schema}.agent_threads SET status = 'busy', metadata = metadata || $2::jsonb, updated_at = $3 WHERE thread_id = $1`, [
          run.threadId,
          JSON.stringify(options.threadBusy.metadata),
          this.now(),
        ]);
      }
      return { run: { ...run, updatedAt: run.createdAt }, others };
    });
  }


  async claimRun(runId: string, threadId: string, headCheckpointId?: () => Promise<string | undefined>): Promise<boolean> {
    const claimed = await this.#claim(runId, threadId);
    // Read once the claim is committed: no run of the thread writes any more, on any instance.
    // Not inside the claim's transaction: the read takes a pooled connection of its own, and
    // claims holding every connection while waiting for one would stall the pool.
    if (claimed && headCheckpointId) await this.setRunStatus(runId, "running", { headCheckpointId: await headCheckpointId() });
    return claimed;
  }


  async #claim(runId: string, threadId: string): Promise<boolean> {
    return this.database.transaction(async (client) => {
      // A locked thread (a state write holds it, another claim or admission is deciding): not yet.
      try {
        await client.query(`SELECT 1 FROM ${this.schema}.agent_threads WHERE thread_id = $1 FOR UPDATE NOWAIT`, [threadId]);
      } catch (error) {
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) return false;
        throw error;
      }
      const { rowCount } = await client.query(
        `UPDATE ${this.schema}.agent_runs SET status = 'running', updated_at = $3 WHERE run_id = $1 AND status = 'pending' AND NOT EXISTS (
           SELECT 1 FROM ${this.schema}.agent_runs AS other, ${this.schema}.agent_runs AS mine WHERE mine.run_id = $1 AND other.thread_id = $2 AND other.run_id <> $1
             AND (other.status = 'running' OR (other.status = 'pending' AND other.created_at < mine.created_at
                  AND other.instance_id IS DISTINCT FROM mine.instance_id)))`,
        [runId, threadId, this.now()],
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
    while (this.#holders >= Math.max(1, Math.floor((this.database.pool.options.max ?? 10) / 2))) await new Promise<void>((resolve) => this.#holderWaits.push(resolve));
    this.#holders += 1;
    try {
      return await this.database.transaction(async (client) => {
        await client.query(`SELECT 1 FROM ${this.schema}.agent_threads WHERE thread_id = $1 FOR KEY SHARE`, [threadId]);
        const { rows } = await client.query<{ run_id: string }>(
          `SELECT run_id FROM ${this.schema}.agent_runs WHERE thread_id = $1 AND status IN ('pending', 'running') LIMIT 1`,
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
    const { rows } = await this.database.query(`SELECT 1 FROM ${this.schema}.agent_runs WHERE thread_id = $1 AND status IN ('pending', 'running') LIMIT 1`, [threadId]);
    return rows.length > 0;
  }


  async requestCancel(runId: string, action: "interrupt" | "rollback"): Promise<void> {
    await this.database.query(`UPDATE ${this.schema}.agent_runs SET cancel_requested = $2 WHERE run_id = $1 AND status IN ('pending', 'running')`, [runId, action]);
  }


  async cancelRequests(instanceId: string): Promise<Array<{ runId: string; threadId: string; action: "interrupt" | "rollback" }>> {
    const { rows } = await this.database.query<{ run_id: string; thread_id: string; cancel_requested: "interrupt" | "rollback" }>(
      `SELECT run_id, thread_id, cancel_requested FROM ${this.schema}.agent_runs
       WHERE instance_id = $1 AND cancel_requested IS NOT NULL AND status IN ('pending', 'running')`,
      [instanceId],
    );
    return rows.map((row) => ({ runId: row.run_id, threadId: row.thread_id, action: row.cancel_requested }));
  }


  async settleThreadStatus(threadId: string, status: ThreadStatus, values?: Record<string, unknown>): Promise<void> {
    await this.database.query(this.#settleStatement, [threadId, status, this.now(), values === undefined ? null : JSON.stringify(values)]);
  }


  /** Sets a thread's status ($2) unless a pending or running run holds it, and its values ($4) when given. */
  get #settleStatement(): string {
    return `UPDATE ${this.schema}.agent_threads AS threads
       SET status = CASE WHEN held THEN threads.status ELSE $2 END, state_values = coalesce($4::jsonb, threads.state_values), updated_at = $3
       FROM (SELECT EXISTS (SELECT 1 FROM ${this.schema}.agent_runs AS runs WHERE runs.thread_id = $1 AND runs.status IN ('pending', 'running')) AS held) AS hold
       WHERE thread_id = $1 AND ($4::jsonb IS NOT NULL OR NOT held)`;
  }


  async endRun(
    run: { runId: string; threadId: string; status: RunStatus; forget?: boolean },
    thread: { settle?: ThreadStatus; values?: Record<string, unknown> },
  ): Promise<void> {
    await this.database.transaction(async (client) => {
      if (run.forget) await client.query(`DELETE FROM ${this.schema}.agent_runs WHERE run_id = $1 AND thread_id = $2`, [run.runId, run.threadId]);
      else await client.query(`UPDATE ${this.schema}.agent_runs SET status = $2, updated_at = $3 WHERE run_id = $1`, [run.runId, run.status, this.now()]);
      if (thread.settle) await client.query(this.#settleStatement, [run.threadId, thread.settle, this.now(), thread.values === undefined ? null : JSON.stringify(thread.values)]);
      else if (thread.values) await this.writeValues(run.threadId, thread.values, client);
    });
  }


  async getRun(threadId: string, runId: string): Promise<Run | null> {
    const { rows } = await this.database.query<RunRow>(`SELECT * FROM ${this.schema}.agent_runs WHERE run_id = $1 AND thread_id = $2`, [runId, threadId]);
    return rows[0] ? toRun(rows[0]) : null;
  }


  async listRuns(threadId: string, options: { limit: number; offset: number; status?: RunStatus }): Promise<Run[]> {
    const { rows } = await this.database.query<RunRow>(
      `SELECT * FROM ${this.schema}.agent_runs WHERE thread_id = $1 AND ($2::text IS NULL OR status = $2)
       ORDER BY created_at DESC, run_id DESC LIMIT $3 OFFSET $4`,
      [threadId, options.status ?? null, options.limit, options.offset],
    );
    return rows.map(toRun);
  }


  async setRunStatus(runId: string, status: RunStatus, started?: { headCheckpointId: string | undefined }): Promise<void> {
    if (started) {
      await this.database.query(`UPDATE ${this.schema}.agent_runs SET status = $2, updated_at = $3, started = true, head_checkpoint_id = $4 WHERE run_id = $1`, [
        runId,
        status,
        this.now(),
        started.headCheckpointId ?? null,
      ]);
    } else {
      await this.database.query(`UPDATE ${this.schema}.agent_runs SET status = $2, updated_at = $3 WHERE run_id = $1`, [runId, status, this.now()]);
    }
  }


  async deleteRun(threadId: string, runId: string): Promise<boolean> {
    return ((await this.database.query(`DELETE FROM ${this.schema}.agent_runs WHERE run_id = $1 AND thread_id = $2`, [runId, threadId])).rowCount ?? 0) > 0;
  }


  async takeAbandonedRuns(options: { self: string; staleMs: number }): Promise<AbandonedRun[]> {
    // Other instances may be alive: only runs of instances that stopped beating are abandoned.
    // `seen` is the run as this statement's snapshot found it; a survivor that took it meanwhile
    // changed `runs.instance_id`, which PostgreSQL re-checks on the locked row, so it is skipped.
    const { rows } = await this.database.query<RunRow>(
      `UPDATE ${this.schema}.agent_runs AS runs SET instance_id = $1
       FROM ${this.schema}.agent_runs AS seen
       LEFT JOIN ${this.schema}.agent_instances AS instances ON instances.instance_id = seen.instance_id
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
    const now = this.now();
    // One transaction, as on SQLite: no client may see a run settled while its thread is still
    // busy (a new run there would be refused with 409).
    await this.database.transaction(async (client) => {
      await client.query(
        `UPDATE ${this.schema}.agent_runs AS runs SET status = outcome.status, updated_at = $3
         FROM unnest($1::text[], $2::text[]) AS outcome(run_id, status) WHERE runs.run_id = outcome.run_id`,
        [outcomes.map((outcome) => outcome.runId), outcomes.map((outcome) => outcome.status), now],
      );
      await client.query(
        `UPDATE ${this.schema}.agent_threads AS threads SET status = 'idle', updated_at = $1 WHERE status = 'busy'
         AND NOT EXISTS (SELECT 1 FROM ${this.schema}.agent_runs AS runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))`,
        [now],
      );
    });
  }
}
