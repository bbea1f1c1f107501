import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";

/**
 * A checkpointer that can undo a run: delete every checkpoint a thread gained after `head`.
 * `createAgent` uses it to make each run all-or-nothing.
 */
export interface RevertibleCheckpointer extends BaseCheckpointSaver {
  /** Id of the thread's newest root checkpoint, or `undefined` for a thread with none. */
  headCheckpointId(threadId: string): Promise<string | undefined>;
  /** Deletes the thread's checkpoints and writes newer than `head` (all of them when `undefined`). */
  revertThread(threadId: string, head: string | undefined): Promise<void>;
  /** Applies the saver's retention to a thread; called after a run succeeds. */
  pruneThread(threadId: string): Promise<void>;
  /** Copies every checkpoint and pending write of `fromThreadId` to `toThreadId`. */
  copyThread(fromThreadId: string, toThreadId: string): Promise<void>;
  /** Releases the database. */
  close(): Promise<void>;
}

/** True when `saver` can revert runs (our savers can; third-party ones may not). */
export function isRevertible(saver: unknown): saver is RevertibleCheckpointer {
  return (
    typeof saver === "object" &&
    saver !== null &&
    typeof (saver as RevertibleCheckpointer).headCheckpointId === "function" &&
    typeof (saver as RevertibleCheckpointer).revertThread === "function"
  );
}

/** A thread as the saver sees it: its id and its newest root checkpoint. */
export interface ThreadHead {
  threadId: string;
  /** Id of the thread's newest root checkpoint. */
  checkpointId: string;
  /** When that checkpoint was written (its `ts`). */
  updatedAt: Date;
}

/** The service's own checkpointer, whichever the backend: revertible, set up, and listing threads. */
export interface ServiceCheckpointer extends RevertibleCheckpointer {
  /** Creates or migrates its tables; idempotent. */
  setup(): Promise<void>;
  /** Threads with checkpoints, most recently updated first. */
  listThreads(options?: { limit?: number }): Promise<ThreadHead[]>;
  /**
   * Indexes the text of up to `limit` threads whose messages were stored before thread search by
   * text existed (see message-text.ts); returns how many, 0 once none is left.
   */
  indexMessageText(limit: number): Promise<number>;
}
