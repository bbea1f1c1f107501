import { packJson } from "../compression.js";
import type { AbandonedRun, Run, RunRepository, RunStatus } from "../runs.js";
import type { ThreadStatus } from "../threads.js";
import { type RunRow, SqliteThreadTables, toRun } from "./thread-tables.js";

/** Runs in SQLite: admission, the per-thread queue, cancels, settling, and runs a dead instance left. */
export class SqliteRuns extends SqliteThreadTables implements RunRepository {
  async admitRun(
    run: Omit<Run, "updatedAt">,
    options: { exclusive: boolean; threadBusy?: { metadata: Record<string, string> } },
  ): Promise<{ run: Run; others: string[] } | { busyWith: string }> {
    return this.database.transaction(() => {
      const others = (this.sql("SELECT run_id FROM runs WHERE thread_id = ? AND status IN ('pending', 'running')").all(run.threadId) as Array<{ run_id: string }>).map(
        (row) => row.run_id,
      );
      if (options.exclusive && others[0]) return { busyWith: others[0] };
      const created = run.createdAt.toISOString();
      this.sql(
        `INSERT INTO runs (run_id, thread_id, assistant_id, status, metadata, kwargs, multitask_strategy, created_at, updated_at, instance_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(run.runId, run.threadId, run.assistantId, run.status, JSON.stringify(run.metadata), packJson(run.kwargs), run.multitaskStrategy, created, created, run.instanceId ?? null);
      if (options.threadBusy) this.#markBusy(run.threadId, options.threadBusy.metadata);
      return { run: { ...run, updatedAt: run.createdAt }, others };
    }, { write: true });
  }


  /** Marks a thread busy, merging `metadata` (string values) into its own. */
  #markBusy(threadId: string, metadata: Record<string, string>): void {
    const patch = Object.keys(metadata).length > 0 ? JSON.stringify(metadata) : null;
    this.sql("UPDATE threads SET status = 'busy', metadata = CASE WHEN ? IS NULL THEN metadata ELSE json_patch(metadata, ?) END, updated_at = ? WHERE thread_id = ?").run(
      patch,
      patch,
      this.now(),
      threadId,
    );
  }


  async claimRun(runId: string, threadId: string, headCheckpointId?: () => Promise<string | undefined>): Promise<boolean> {
    // One server process owns the file and its queue runs one run of a thread at a time, so no
    // run of this thread writes between this read and the claim: read first, then claim and
    // record the start in one statement (one commit, not two). A refused claim reads again.
    const started = headCheckpointId ? { head: (await headCheckpointId()) ?? null } : undefined;
    const claimed = this.sql(
      `UPDATE runs SET status = 'running', updated_at = @now,
         started = CASE WHEN @started THEN 1 ELSE started END, head_checkpoint_id = CASE WHEN @started THEN @head ELSE head_checkpoint_id END
       WHERE run_id = @run AND status = 'pending' AND NOT EXISTS (
         SELECT 1 FROM runs AS other, runs AS mine WHERE mine.run_id = @run AND other.thread_id = @thread AND other.run_id <> @run
           AND (other.status = 'running' OR (other.status = 'pending' AND other.created_at < mine.created_at
                AND other.instance_id IS NOT mine.instance_id)))`,
    ).run({ now: this.now(), run: runId, thread: threadId, started: started ? 1 : 0, head: started?.head ?? null });
    return claimed.changes > 0;
  }


  /**
   * One server process owns the file: its RunManager's per-thread slot keeps its own runs out
   * while `work` runs; this only refuses a run the database still shows as unfinished.
   */
  async holdThread<T>(threadId: string, work: () => Promise<T>): Promise<{ value: T } | { busyWith: string }> {
    const active = this.sql("SELECT run_id FROM runs WHERE thread_id = ? AND status IN ('pending', 'running') LIMIT 1").get(threadId) as { run_id: string } | undefined;
    if (active) return { busyWith: active.run_id };
    return { value: await work() };
  }


  async hasActiveRuns(threadId: string): Promise<boolean> {
    return this.sql("SELECT 1 FROM runs WHERE thread_id = ? AND status IN ('pending', 'running') LIMIT 1").get(threadId) !== undefined;
  }


  async requestCancel(runId: string, action: "interrupt" | "rollback"): Promise<void> {
    this.sql("UPDATE runs SET cancel_requested = ? WHERE run_id = ? AND status IN ('pending', 'running')").run(action, runId);
  }


  async cancelRequests(instanceId: string): Promise<Array<{ runId: string; threadId: string; action: "interrupt" | "rollback" }>> {
    const rows = this.sql(
      "SELECT run_id, thread_id, cancel_requested FROM runs WHERE instance_id = ? AND cancel_requested IS NOT NULL AND status IN ('pending', 'running')",
    ).all(instanceId) as Array<{ run_id: string; thread_id: string; cancel_requested: "interrupt" | "rollback" }>;
    return rows.map((row) => ({ runId: row.run_id, threadId: row.thread_id, action: row.cancel_requested }));
  }


  async settleThreadStatus(threadId: string, status: ThreadStatus, values?: Record<string, unknown>): Promise<void> {
    this.#settle(threadId, status, values);
  }


  async endRun(
    run: { runId: string; threadId: string; status: RunStatus; forget?: boolean },
    thread: { settle?: ThreadStatus; values?: Record<string, unknown> },
  ): Promise<void> {
    this.database.transaction(() => {
      if (run.forget) this.sql("DELETE FROM runs WHERE run_id = ? AND thread_id = ?").run(run.runId, run.threadId);
      else this.#setStatus(run.runId, run.status, this.now());
      if (thread.settle) this.#settle(run.threadId, thread.settle, thread.values);
      else if (thread.values) this.writeValues(run.threadId, thread.values);
    });
  }


  /** See `settleThreadStatus`. */
  #settle(threadId: string, status: ThreadStatus, values: Record<string, unknown> | undefined): void {
    this.sql(
      `UPDATE threads SET status = CASE WHEN held THEN status ELSE @status END, state_values = coalesce(@values, state_values), updated_at = @now
       FROM (SELECT EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = @thread AND runs.status IN ('pending', 'running')) AS held)
       WHERE thread_id = @thread AND (@values IS NOT NULL OR NOT held)`,
    ).run({ status, values: values === undefined ? null : JSON.stringify(values), now: this.now(), thread: threadId });
  }


  async getRun(threadId: string, runId: string): Promise<Run | null> {
    const row = this.sql("SELECT * FROM runs WHERE run_id = ? AND thread_id = ?").get(runId, threadId) as RunRow | undefined;
    return row ? toRun(row) : null;
  }


  async listRuns(threadId: string, options: { limit: number; offset: number; status?: RunStatus }): Promise<Run[]> {
    const rows = this.sql(
        `SELECT * FROM runs WHERE thread_id = ? ${options.status ? "AND status = ?" : ""}
         ORDER BY created_at DESC, run_id DESC LIMIT ? OFFSET ?`,
      )
      .all(...[threadId, ...(options.status ? [options.status] : []), options.limit, options.offset]) as RunRow[];
    return rows.map(toRun);
  }


  async setRunStatus(runId: string, status: RunStatus, started?: { headCheckpointId: string | undefined }): Promise<void> {
    if (started) {
      this.sql("UPDATE runs SET status = ?, updated_at = ?, started = 1, head_checkpoint_id = ? WHERE run_id = ?").run(
        status,
        this.now(),
        started.headCheckpointId ?? null,
        runId,
      );
    } else {
      this.#setStatus(runId, status, this.now());
    }
  }


  #setStatus(runId: string, status: RunStatus, now: string): void {
    this.sql("UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?").run(status, now, runId);
  }


  async deleteRun(threadId: string, runId: string): Promise<boolean> {
    return this.sql("DELETE FROM runs WHERE run_id = ? AND thread_id = ?").run(runId, threadId).changes > 0;
  }


  async takeAbandonedRuns(options: { self: string; staleMs: number }): Promise<AbandonedRun[]> {
    // One server process per SQLite file (`registerInstance` sees to it): every other instance's
    // runs are abandoned. One statement, so atomic.
    const rows = this.sql(
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
    this.database.transaction(() => {
      const now = this.now();
      for (const { runId, status } of outcomes) this.#setStatus(runId, status, now);
      this.sql(
        `UPDATE threads SET status = 'idle', updated_at = ? WHERE status = 'busy'
         AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))`,
      ).run(now);
    });
  }

}
