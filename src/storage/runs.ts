/** Runs: what was asked of the agent on a thread, and how each thread's runs take turns. */
import type { ThreadStatus } from "./threads.js";

/** Run lifecycle as the LangGraph API reports it. */
export type RunStatus = "pending" | "running" | "success" | "error" | "timeout" | "interrupted";
export type MultitaskStrategy = "reject" | "enqueue" | "interrupt" | "rollback";

/** A run's record: what was asked (`kwargs`), by whom (`metadata`) and how it went (`status`). */
export interface Run {
  runId: string;
  threadId: string;
  /** The server instance that runs it; its heartbeat tells whether the run can still finish. */
  instanceId?: string;
  assistantId: string;
  status: RunStatus;
  metadata: Record<string, unknown>;
  kwargs: Record<string, unknown>;
  multitaskStrategy: MultitaskStrategy;
  createdAt: Date;
  updatedAt: Date;
}

/** A run a dead process left unfinished, and where its thread was when it started. */
export interface AbandonedRun {
  runId: string;
  threadId: string;
  status: "pending" | "running";
  /** The thread's newest checkpoint when the run started (`null`: it had none; `undefined`: never started). */
  headCheckpointId: string | null | undefined;
}

/**
 * Where runs live, and the lease that gives each thread one run at a time across every instance
 * on the database.
 */
export interface RunRepository {
  /** Creates or migrates the tables; idempotent. */
  setup(): Promise<void>;
  /**
   * Inserts a run, atomically with respect to every instance: with `exclusive`, only if the
   * thread has no pending or running run, else returns that run's id and inserts nothing. Its
   * `createdAt` is kept: it orders the thread's queue, so it must be taken when the run is queued.
   * `others` are the thread's other unfinished runs, on any instance. With `threadBusy`, an
   * admitted run also marks its thread `busy` and merges `threadBusy.metadata` into the thread's
   * metadata, in the same transaction (one commit a run fewer, and no moment where the run is
   * there and the thread still idle).
   */
  admitRun(
    run: Omit<Run, "updatedAt">,
    options: { exclusive: boolean; threadBusy?: { metadata: Record<string, string> } },
  ): Promise<{ run: Run; others: string[] } | { busyWith: string }>;
  /**
   * Marks a pending run `running` if it is its thread's turn: no run is running and no pending
   * run of another instance is older (an instance's own queue orders its runs). Atomic across
   * instances; false means wait and try again. With `headCheckpointId`, a claimed run is also
   * recorded as started at the checkpoint it reads (the thread's newest), as `setRunStatus` with
   * `started` does (see `AbandonedRun.headCheckpointId`); it is read when it is certain to see
   * the last write of the thread's previous run.
   */
  claimRun(runId: string, threadId: string, headCheckpointId?: () => Promise<string | undefined>): Promise<boolean>;
  /**
   * Runs `work` (a state write, a copy) holding the thread as a run does, on every instance:
   * unless a pending or running run holds it (then returns that run's id and runs nothing),
   * and no run is claimed on the thread until `work` ends (one admitted meanwhile waits).
   */
  holdThread<T>(threadId: string, work: () => Promise<T>): Promise<{ value: T } | { busyWith: string }>;
  /** Whether the thread has a pending or running run, on any instance. */
  hasActiveRuns(threadId: string): Promise<boolean>;
  /** Asks whichever instance runs `runId` to cancel it (seen on that instance's next heartbeat). */
  requestCancel(runId: string, action: "interrupt" | "rollback"): Promise<void>;
  /** Cancels asked of this instance's unfinished runs. */
  cancelRequests(instanceId: string): Promise<Array<{ runId: string; threadId: string; action: "interrupt" | "rollback" }>>;
  /**
   * Sets the thread's status, unless a pending or running run still holds it; `values`, when
   * given, become its values projection (see `ThreadRepository.setThreadValues`) in the same
   * statement, held or not.
   */
  settleThreadStatus(threadId: string, status: ThreadStatus, values?: Record<string, unknown>): Promise<void>;
  getRun(threadId: string, runId: string): Promise<Run | null>;
  listRuns(threadId: string, options: { limit: number; offset: number; status?: RunStatus }): Promise<Run[]>;
  /**
   * Records how a run ended, and its thread's part, in one transaction: the run's final `status`
   * (with `forget`, a run rolled back, its record is deleted instead); then, with `settle`, the
   * thread's status as `settleThreadStatus` sets it (unless another run holds the thread), and
   * `values`, when given, as its values projection either way.
   */
  endRun(
    run: { runId: string; threadId: string; status: RunStatus; forget?: boolean },
    thread: { settle?: ThreadStatus; values?: Record<string, unknown> },
  ): Promise<void>;
  /** Sets a run's status; a run that starts also records the thread's newest checkpoint then. */
  setRunStatus(runId: string, status: RunStatus, started?: { headCheckpointId: string | undefined }): Promise<void>;
  deleteRun(threadId: string, runId: string): Promise<boolean>;
  /**
   * Takes the runs left `pending` or `running` by an instance that died, oldest first: on
   * PostgreSQL, one whose last heartbeat is older than `staleMs`; on SQLite, where one server
   * process owns the file, any instance but `self`. Atomically, each becomes `self`'s: of
   * several survivors, exactly one settles it, and the run (still unfinished) holds its thread
   * against queued runs until `closeAbandonedRuns`. Should `self` die first, the runs are
   * abandoned again, for the next survivor.
   */
  takeAbandonedRuns(options: { self: string; staleMs: number }): Promise<AbandonedRun[]>;
  /** Marks abandoned runs with their final status, and frees threads no live run holds. */
  closeAbandonedRuns(outcomes: Array<{ runId: string; status: RunStatus }>): Promise<void>;
}
