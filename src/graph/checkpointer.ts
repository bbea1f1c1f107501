import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SqliteCheckpointer } from "./sqlite-checkpointer.js";

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

/** Name of the SQLite file inside `DATA_DIR`. */
export const DATABASE_FILE = "stateful-agent.sqlite";

/**
 * Opens the service's checkpoint database in `dataDir`, creating the folder if needed.
 * `retention` keeps only the newest N checkpoints of each thread (messages are always kept).
 */
export function openSqliteCheckpointer(dataDir: string, options: { retention?: number } = {}): SqliteCheckpointer {
  mkdirSync(dataDir, { recursive: true });
  return new SqliteCheckpointer(join(dataDir, DATABASE_FILE), options);
}
