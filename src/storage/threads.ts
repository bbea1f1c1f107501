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
}
