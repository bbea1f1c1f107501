import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { SqliteSaver } from "@langchain/langgraph-checkpoint-sqlite";
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * A checkpointer that can undo a run: delete every checkpoint a thread gained after `head`.
 * `createAgent` uses it to make each run all-or-nothing.
 */
export interface RevertibleCheckpointer extends BaseCheckpointSaver {
  /** Id of the thread's newest root checkpoint, or `undefined` for a thread with none. */
  headCheckpointId(threadId: string): Promise<string | undefined>;
  /** Deletes the thread's checkpoints and writes newer than `head` (all of them when `undefined`). */
  revertThread(threadId: string, head: string | undefined): Promise<void>;
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
 * `SqliteSaver` on one file, in WAL mode so readers never block the writer, with a busy timeout
 * so a second connection (another process, a backup) waits instead of failing with SQLITE_BUSY.
 * Checkpoint ids are uuid6, which sort by creation time; "newer than head" is a string compare.
 */
export class AgentSqliteSaver extends SqliteSaver implements RevertibleCheckpointer {
  /** Opens (creating if needed) `path`; `":memory:"` gives a private in-memory database. */
  constructor(path: string) {
    const database = new Database(path);
    database.pragma("journal_mode = WAL");
    database.pragma("busy_timeout = 5000");
    // In WAL mode NORMAL loses no committed transaction when the process dies; only a power cut
    // can take back the last few, and it is much cheaper than FULL.
    database.pragma("synchronous = NORMAL");
    super(database);
    this.setup();
  }

  async headCheckpointId(threadId: string): Promise<string | undefined> {
    const row = this.db
      .prepare(`SELECT max(checkpoint_id) AS head FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''`)
      .get(threadId) as { head: string | null } | undefined;
    return row?.head ?? undefined;
  }

  async revertThread(threadId: string, head: string | undefined): Promise<void> {
    const after = head ?? "";
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM writes WHERE thread_id = ? AND checkpoint_id > ?`).run(threadId, after);
      this.db.prepare(`DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id > ?`).run(threadId, after);
    })();
  }

  async copyThread(fromThreadId: string, toThreadId: string): Promise<void> {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
           SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints WHERE thread_id = ?`,
        )
        .run(toThreadId, fromThreadId);
      this.db
        .prepare(
          `INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value)
           SELECT ?, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value FROM writes WHERE thread_id = ?`,
        )
        .run(toThreadId, fromThreadId);
    })();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Opens the service's checkpoint database in `dataDir`, creating the folder if needed. */
export function openSqliteCheckpointer(dataDir: string): AgentSqliteSaver {
  mkdirSync(dataDir, { recursive: true });
  return new AgentSqliteSaver(join(dataDir, DATABASE_FILE));
}
