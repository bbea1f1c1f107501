/** Threads: the service's record of each conversation (its messages are the checkpointer's). */

/** Thread lifecycle as the LangGraph API reports it. */
export type ThreadStatus = "idle" | "busy" | "interrupted" | "error";

/** A thread's own record; its messages live in the checkpointer, not here. */
export interface Thread {
  threadId: string;
  /** Who created it, when API keys are on; `null` for threads created without authentication. */
  owner: string | null;
  metadata: Record<string, unknown>;
  status: ThreadStatus;
  createdAt: Date;
  updatedAt: Date;
  /** Minutes the thread may stay idle (since `updatedAt`) before it is deleted; `null`: kept until deleted. */
  ttlMinutes: number | null;
}

/** What `createThread` takes. */
export interface NewThread {
  threadId: string;
  metadata: Record<string, unknown>;
  owner?: string;
  ttlMinutes?: number;
  values?: Record<string, unknown>;
}

export type ThreadSortField = "thread_id" | "status" | "created_at" | "updated_at";

/** Filters of thread search and count; every given filter must match. */
export interface ThreadFilter {
  /** Only this owner's threads; undefined means every thread (authentication off). */
  owner?: string;
  /** Each key must equal the given JSON value in the thread's metadata. */
  metadata?: Record<string, unknown>;
  status?: ThreadStatus;
  ids?: string[];
  /**
   * The thread's stored values projection (see `setThreadValues`) must contain this (as jsonb's
   * `@>`). A thread whose values were never recorded (of a release before the projection)
   * matches no values filter until they are (`threadsWithoutValues`).
   */
  values?: Record<string, unknown>;
  /**
   * The thread's title (`metadata.title`) or the text of one of its messages (the user's or the
   * assistant's, on any branch of its history) contains this text, ignoring case (see
   * message-text.ts); blank means no filter.
   */
  text?: string;
}

export interface ThreadSearch extends ThreadFilter {
  limit: number;
  offset: number;
  sortBy: ThreadSortField;
  sortOrder: "asc" | "desc";
}

/**
 * Where threads live. Lookups return `null` for unknown ids; the route decides whether that
 * means 404. Implementations: SQLite (same file as the checkpoints), PostgreSQL.
 */
export interface ThreadRepository {
  /** Creates or migrates the tables; idempotent. */
  setup(): Promise<void>;
  /**
   * Inserts a thread; returns `null` when the id is taken. `values` is its values projection (a
   * copy's is its source's); a new thread's is `{}`.
   */
  createThread(thread: NewThread): Promise<Thread | null>;
  /** The thread, or `null` when it does not exist or (with `owner` given) belongs to someone else. */
  getThread(threadId: string, owner?: string): Promise<Thread | null>;
  /** Whether the thread exists: what a run checks before and after it runs, cheaper than reading it. */
  threadExists(threadId: string): Promise<boolean>;
  /** Merges `metadata` into the thread's (a `null` value deletes the key) and/or sets its status or TTL. */
  updateThread(threadId: string, patch: { metadata?: Record<string, unknown>; status?: ThreadStatus; ttlMinutes?: number }): Promise<Thread | null>;
  /**
   * Sets metadata `key` to `value` only if the thread has no value there (missing or null), in
   * one statement, so a value written meanwhile (a user renaming a chat) is never overwritten.
   * Bookkeeping of what already happened (a generated title): `updated_at`, and so the thread's
   * place in lists and its TTL clock, are left alone. Returns whether it was written.
   */
  setMetadataIfAbsent(threadId: string, key: string, value: unknown): Promise<boolean>;
  /**
   * Records the projection of the thread's current values that `values` filters match (what the
   * server keeps of its state: never its messages, see src/server/thread-values.ts); the thread
   * counts as updated. With `onlyIfMissing`, only on a thread that has none yet (a backfill must
   * not overwrite what a run recorded meanwhile). Returns whether a thread was written.
   */
  setThreadValues(threadId: string, values: Record<string, unknown>, options?: { onlyIfMissing?: boolean }): Promise<boolean>;
  /** Up to `limit` ids of threads with no values projection (created by a release before it). */
  threadsWithoutValues(limit: number): Promise<string[]>;
  /**
   * Deletes, with their runs, up to `limit` threads idle longer than their TTL at `now` (not
   * updated for `ttlMinutes`) that no pending or running run holds; returns their ids. Atomic
   * across instances: each expired thread is deleted, and returned, by exactly one caller.
   * The caller deletes their checkpoints.
   */
  deleteExpiredThreads(now: Date, limit: number): Promise<string[]>;
  /** Deletes the thread and its runs; returns whether it existed. */
  deleteThread(threadId: string): Promise<boolean>;
  searchThreads(search: ThreadSearch): Promise<Thread[]>;
  countThreads(filter: ThreadFilter): Promise<number>;
}
