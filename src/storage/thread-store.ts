/** Thread lifecycle as the LangGraph API reports it. */
export type ThreadStatus = "idle" | "busy" | "interrupted" | "error";
/** Run lifecycle as the LangGraph API reports it. */
export type RunStatus = "pending" | "running" | "success" | "error" | "timeout" | "interrupted";
export type MultitaskStrategy = "reject" | "enqueue" | "interrupt" | "rollback";

/** A thread's own record; its messages live in the checkpointer, not here. */
export interface Thread {
  threadId: string;
  /** Who created it, when API keys are on; `null` for threads created without authentication. */
  owner: string | null;
  metadata: Record<string, unknown>;
  status: ThreadStatus;
  createdAt: Date;
  updatedAt: Date;
}

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

/** A run event as relayed through the database to other instances. */
export interface StoredRunEvent {
  seq: number;
  event: string;
  /** The event's data as JSON text. */
  data: string;
}

/**
 * Stores that several instances share relay run events through the database, so a run's stream
 * can be joined from an instance that does not execute it.
 */
export interface RunEventStore {
  appendRunEvents(runId: string, events: StoredRunEvent[]): Promise<void>;
  runEventsAfter(runId: string, afterSeq: number): Promise<StoredRunEvent[]>;
  /** Deletes relayed events older than `olderThanMs`. */
  pruneRunEvents(olderThanMs: number): Promise<void>;
}

/** Whether `store` relays run events (PostgreSQL does; SQLite has one server process). */
export const relaysRunEvents = (store: object): store is RunEventStore => typeof (store as Partial<RunEventStore>).appendRunEvents === "function";

export type ThreadSortField = "thread_id" | "status" | "created_at" | "updated_at";

/** Filters of thread search and count; every given filter must match. */
export interface ThreadFilter {
  /** Only this owner's threads; undefined means every thread (authentication off). */
  owner?: string;
  /** Each key must equal the given JSON value in the thread's metadata. */
  metadata?: Record<string, unknown>;
  status?: ThreadStatus;
  ids?: string[];
}

export interface ThreadSearch extends ThreadFilter {
  limit: number;
  offset: number;
  sortBy: ThreadSortField;
  sortOrder: "asc" | "desc";
}

/**
 * Where threads and runs live. Lookups return `null` for unknown ids; the route decides
 * whether that means 404. Implementations: SQLite (same file as the checkpoints), PostgreSQL.
 */
export interface ThreadStore {
  /** Creates or migrates the tables; idempotent. */
  setup(): Promise<void>;
  /** Inserts a thread; returns `null` when the id is taken. */
  createThread(thread: { threadId: string; metadata: Record<string, unknown>; owner?: string }): Promise<Thread | null>;
  /** The thread, or `null` when it does not exist or (with `owner` given) belongs to someone else. */
  getThread(threadId: string, owner?: string): Promise<Thread | null>;
  /** Merges `metadata` into the thread's (a `null` value deletes the key) and/or sets its status. */
  updateThread(threadId: string, patch: { metadata?: Record<string, unknown>; status?: ThreadStatus }): Promise<Thread | null>;
  /** Deletes the thread and its runs; returns whether it existed. */
  deleteThread(threadId: string): Promise<boolean>;
  searchThreads(search: ThreadSearch): Promise<Thread[]>;
  countThreads(filter: ThreadFilter): Promise<number>;

  /**
   * Inserts a run, atomically with respect to every instance: with `exclusive`, only if the
   * thread has no pending or running run, else returns that run's id and inserts nothing. Its
   * `createdAt` is kept: it orders the thread's queue, so it must be taken when the run is queued.
   * `others` are the thread's other unfinished runs, on any instance.
   */
  admitRun(run: Omit<Run, "updatedAt">, options: { exclusive: boolean }): Promise<{ run: Run; others: string[] } | { busyWith: string }>;
  /**
   * Marks a pending run `running` if it is its thread's turn: no run is running and no pending
   * run is older. Atomic across instances; false means wait and try again.
   */
  claimRun(runId: string, threadId: string): Promise<boolean>;
  /**
   * Runs `work` (a state write, a copy) holding the thread as a run does, on every instance:
   * unless a pending or running run holds it (then returns that run's id and runs nothing),
   * and no run is admitted or claimed on the thread until `work` ends.
   */
  holdThread<T>(threadId: string, work: () => Promise<T>): Promise<{ value: T } | { busyWith: string }>;
  /** Whether the thread has a pending or running run, on any instance. */
  hasActiveRuns(threadId: string): Promise<boolean>;
  /** Asks whichever instance runs `runId` to cancel it (seen on that instance's next heartbeat). */
  requestCancel(runId: string, action: "interrupt" | "rollback"): Promise<void>;
  /** Cancels asked of this instance's unfinished runs. */
  cancelRequests(instanceId: string): Promise<Array<{ runId: string; threadId: string; action: "interrupt" | "rollback" }>>;
  /** Sets the thread's status, unless a pending or running run still holds it. */
  settleThreadStatus(threadId: string, status: ThreadStatus): Promise<void>;
  getRun(threadId: string, runId: string): Promise<Run | null>;
  listRuns(threadId: string, options: { limit: number; offset: number; status?: RunStatus }): Promise<Run[]>;
  /** Sets a run's status; a run that starts also records the thread's newest checkpoint then. */
  setRunStatus(runId: string, status: RunStatus, started?: { headCheckpointId: string | undefined }): Promise<void>;
  deleteRun(threadId: string, runId: string): Promise<boolean>;
  /**
   * Records a starting server instance as alive (its first heartbeat). Where one server process
   * owns the database (SQLite), throws `DatabaseInUseError` instead when another instance's
   * process is alive and beat within `staleMs`: two servers on one file would each take the
   * other for dead and undo its runs.
   */
  registerInstance(instanceId: string, options: { pid: number; staleMs: number }): Promise<void>;
  /** Records that server instance `instanceId` is alive (call it every heartbeat interval). */
  heartbeat(instanceId: string): Promise<void>;
  /** Forgets an instance that stopped cleanly. */
  removeInstance(instanceId: string): Promise<void>;
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
  close(): Promise<void>;
}
