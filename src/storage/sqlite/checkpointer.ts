/**
 * A LangGraph checkpoint saver on SQLite that stores each message once.
 *
 * The stock savers write every checkpoint's channel values whole, so a thread of n messages
 * costs O(n) bytes per checkpoint and O(n²) in all. Here:
 * - channel values are stored once per version (`checkpoint_blobs`), so a checkpoint only
 *   writes the channels that changed;
 * - a channel holding a list of messages is stored as ranges over the thread's append-only
 *   message log (`checkpoint_messages`): a new turn appends its new messages and a few bytes of
 *   ranges, whatever the length of the history. Forks and edits still work: a list that is not
 *   an extension of its parent simply references other ranges or appends the edited messages.
 * - decoded messages are cached per thread, so reading the newest checkpoint of a busy thread
 *   does not parse its whole history again on every turn.
 * Every checkpoint still restores exactly the values of its time.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import type {
  ChannelVersions,
  Checkpoint,
  CheckpointListOptions,
  CheckpointMetadata,
  CheckpointTuple,
  PendingWrite,
  SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import { TASKS } from "@langchain/langgraph-checkpoint";
import type BetterSqlite3 from "better-sqlite3";
import type { MigrationSet } from "../migrations.js";
import { DATABASE_FILE, SqliteDatabase, databaseFileIn } from "./database.js";
import {
  type BlobRow,
  type CheckpointRow,
  MessageLogSaver,
  type StoredCheckpointJson,
  type ThreadHead,
  type WriteRow,
  blobVersions,
  newestThreads,
  readCheckpoint,
} from "../message-log/saver.js";
import type { MessageRow } from "../message-log/log.js";

/** The checkpoints' tables; `agent_checkpoint_migrations` has numbered them since the first release. */
export const CHECKPOINT_MIGRATIONS: MigrationSet = {
  table: "agent_checkpoint_migrations",
  steps: [
  `CREATE TABLE agent_checkpoints (
     thread_id TEXT NOT NULL,
     checkpoint_ns TEXT NOT NULL,
     checkpoint_id TEXT NOT NULL,
     parent_checkpoint_id TEXT,
     checkpoint TEXT NOT NULL,
     metadata_type TEXT NOT NULL,
     metadata BLOB NOT NULL,
     PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
   ) WITHOUT ROWID;
   CREATE TABLE agent_checkpoint_blobs (
     thread_id TEXT NOT NULL,
     checkpoint_ns TEXT NOT NULL,
     channel TEXT NOT NULL,
     version TEXT NOT NULL,
     checkpoint_id TEXT NOT NULL,
     type TEXT NOT NULL,
     blob BLOB,
     PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
   ) WITHOUT ROWID;
   CREATE TABLE agent_checkpoint_writes (
     thread_id TEXT NOT NULL,
     checkpoint_ns TEXT NOT NULL,
     checkpoint_id TEXT NOT NULL,
     task_id TEXT NOT NULL,
     idx INTEGER NOT NULL,
     task_path TEXT NOT NULL,
     channel TEXT NOT NULL,
     type TEXT NOT NULL,
     blob BLOB,
     PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
   ) WITHOUT ROWID;
   CREATE TABLE agent_messages (
     thread_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     checkpoint_id TEXT NOT NULL,
     type TEXT NOT NULL,
     data BLOB NOT NULL,
     PRIMARY KEY (thread_id, seq)
   ) WITHOUT ROWID;`,
  // Sequence numbers come from the database, so two processes on one file never hand out the
  // same one, and are never reused, so no cache can hold a stale message under a live number.
  `CREATE TABLE agent_message_counters (
     thread_id TEXT PRIMARY KEY,
     next_seq INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // The log becomes an ordinary (rowid) table. A WITHOUT ROWID table keeps at most ~1,000 bytes
  // of a row in its 4 KiB page and the rest in an overflow page of its own: a message of 1.2 to
  // 4 KB took ~4.7 KB (measured), where a rowid table keeps up to ~4 KB in the page. From this
  // version on, messages, values and writes may also be deflated (a type ending in "+deflate1")
  // and a checkpoint's JSON may be a BLOB (see compression.ts), which earlier releases cannot
  // read: its number makes a later release that does not know it refuse the file
  // (NewerSchemaError) instead; releases before this runner existed (30e50ab and older) do not
  // check, so there is no going back to them.
  `CREATE TABLE agent_messages_rowid (
     thread_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     checkpoint_id TEXT NOT NULL,
     type TEXT NOT NULL,
     data BLOB NOT NULL,
     PRIMARY KEY (thread_id, seq)
   );
   INSERT INTO agent_messages_rowid (thread_id, seq, checkpoint_id, type, data)
     SELECT thread_id, seq, checkpoint_id, type, data FROM agent_messages ORDER BY thread_id, seq;
   DROP TABLE agent_messages;
   ALTER TABLE agent_messages_rowid RENAME TO agent_messages;`,
  // What thread search by text reads (see message-text.ts): each message's searchable text,
  // written and deleted with its log row (a rowid table: replies often pass 1,000 bytes). Threads
  // already holding messages are listed as pending, to be indexed in the background at start.
  `CREATE TABLE agent_message_text (
     thread_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     checkpoint_id TEXT NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (thread_id, seq)
   );
   CREATE TABLE agent_message_text_pending (thread_id TEXT PRIMARY KEY) WITHOUT ROWID;
   INSERT INTO agent_message_text_pending SELECT DISTINCT thread_id FROM agent_messages;`,
  ],
};

/** Tables holding a thread's rows, each with its `checkpoint_id` (a revert deletes the newer ones). */
const THREAD_TABLES = ["agent_checkpoints", "agent_checkpoint_blobs", "agent_checkpoint_writes", "agent_messages", "agent_message_text"] as const;

/** Options of `SqliteCheckpointer`. */
export interface SqliteCheckpointerOptions {
  /** Keep only the newest N root checkpoints of each thread (messages are always kept). */
  retention?: number;
  serde?: SerializerProtocol;
  /** Whether `close()` closes the database it was given (the service's storage asks for it). */
  closesDatabase?: boolean;
}

/**
 * See the module comment. Give it the service's `SqliteDatabase` (which its owner closes), or a
 * file path (`":memory:"` for a private in-memory database) to open one it closes itself.
 */
export class SqliteCheckpointer extends MessageLogSaver {
  readonly database: SqliteDatabase;
  readonly #retention: number | undefined;
  readonly #ownsDatabase: boolean;

  constructor(database: SqliteDatabase | string, options: SqliteCheckpointerOptions = {}) {
    super(options.serde);
    this.#retention = options.retention;
    this.#ownsDatabase = typeof database === "string" || (options.closesDatabase ?? false);
    this.database = typeof database === "string" ? new SqliteDatabase(database) : database;
    // At once, not in setup(): a saver made with `new` is used straight away.
    this.database.migrate(CHECKPOINT_MIGRATIONS);
  }

  /** The connection, for tools and tests that read the tables. */
  get db(): BetterSqlite3.Database {
    return this.database.connection;
  }

  /** Creates or migrates the tables; idempotent (the constructor already did, so a saver made with `new` works at once). */
  async setup(): Promise<void> {
    this.database.migrate(CHECKPOINT_MIGRATIONS);
  }

  #sql(source: string): BetterSqlite3.Statement {
    return this.database.statement(source);
  }

  protected async checkpointRow(config: RunnableConfig): Promise<CheckpointRow | undefined> {
    const { thread_id: threadId, checkpoint_ns: namespace = "", checkpoint_id: checkpointId } = config.configurable ?? {};
    if (threadId === undefined) return undefined;
    return (
      checkpointId
        ? this.#sql("SELECT * FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?")
            .get(String(threadId), namespace, checkpointId)
        : this.#sql("SELECT * FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id DESC LIMIT 1")
            .get(String(threadId), namespace)
    ) as CheckpointRow | undefined;
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const query = this.listQuery(config, options);
    const where = query.clauses.length > 0 ? `WHERE ${query.clauses.map(([clause]) => clause).join(" AND ")}` : "";
    const parameters = [...query.clauses.map(([, value]) => value), ...(query.limit === undefined ? [] : [query.limit])];
    // Read all rows first: decoding a tuple runs other statements on the same connection.
    const rows = this.#sql(`SELECT * FROM agent_checkpoints ${where} ORDER BY checkpoint_id DESC${query.limit === undefined ? "" : " LIMIT ?"}`).all(
      ...parameters,
    ) as CheckpointRow[];
    yield* this.tuplesOf(rows, options);
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const prepared = await this.preparePut(config, checkpoint, metadata, newVersions);
    const { threadId, namespace, checkpointId } = prepared;
    let firstSeq = 0;
    this.database.transaction(() => {
      if (prepared.fresh.length > 0) {
        const counter = this.#sql(
          `INSERT INTO agent_message_counters (thread_id, next_seq)
           VALUES (@thread, (SELECT coalesce(max(seq) + 1, 0) FROM agent_messages WHERE thread_id = @thread) + @count)
           ON CONFLICT (thread_id) DO UPDATE SET next_seq = next_seq + @count
           RETURNING next_seq`,
        ).get({ thread: threadId, count: prepared.fresh.length }) as { next_seq: number };
        firstSeq = counter.next_seq - prepared.fresh.length;
        const insertMessage = this.#sql("INSERT INTO agent_messages (thread_id, seq, checkpoint_id, type, data) VALUES (?, ?, ?, ?, ?)");
        for (const { at, type, data } of prepared.messageRows) insertMessage.run(threadId, firstSeq + at, checkpointId, type, data);
        const insertText = this.#sql("INSERT INTO agent_message_text (thread_id, seq, checkpoint_id, text) VALUES (?, ?, ?, ?)");
        for (const { at, text } of prepared.texts) insertText.run(threadId, firstSeq + at, checkpointId, text);
      }
      const rows = this.rowsOf(prepared, firstSeq);
      const insertBlob = this.#sql(
        "INSERT OR REPLACE INTO agent_checkpoint_blobs (thread_id, checkpoint_ns, channel, version, checkpoint_id, type, blob) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      for (const [channel, version, type, blob] of rows.blobs) insertBlob.run(threadId, namespace, channel, version, checkpointId, type, blob);
      this.#sql(
        `INSERT OR REPLACE INTO agent_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata_type, metadata)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(threadId, namespace, checkpointId, prepared.parentId, rows.checkpoint, prepared.metadataType, prepared.metadata);
    }, { write: true });
    return this.finishPut(prepared, firstSeq);
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ""): Promise<void> {
    const prepared = await this.prepareWrites(config, writes);
    const insert = this.#sql(
      `${prepared.replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE"} INTO agent_checkpoint_writes
       (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, type, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.database.transaction(() => {
      for (const { idx, channel, type, bytes } of prepared.rows) {
        insert.run(prepared.threadId, prepared.namespace, prepared.checkpointId, taskId, idx, taskPath, channel, type, bytes);
      }
    });
  }

  async deleteThread(threadId: string): Promise<void> {
    this.database.transaction(() => {
      for (const table of [...THREAD_TABLES, "agent_message_text_pending"]) {
        this.#sql(`DELETE FROM ${table} WHERE thread_id = ?`).run(threadId);
      }
    });
    this.forgetThread(threadId);
  }

  /**
   * One message per row: rows of several fill SQLite's 4 KiB pages worse (four rows of ~840
   * bytes leave a fifth of each page empty), which costs what sharing a row saves (measured).
   */
  protected readonly messageRowBytes = undefined;

  protected async loadStoredCheckpoint(threadId: string, namespace: string, checkpointId: string): Promise<StoredCheckpointJson | undefined> {
    const row = this.#sql("SELECT checkpoint FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?").get(threadId, namespace, checkpointId) as
      | { checkpoint: string | Uint8Array }
      | undefined;
    return row ? readCheckpoint(row.checkpoint) : undefined;
  }

  async headCheckpointId(threadId: string): Promise<string | undefined> {
    const row = this.#sql("SELECT max(checkpoint_id) AS head FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_ns = ''")
      .get(threadId) as { head: string | null };
    return row.head ?? undefined;
  }

  async revertThread(threadId: string, head: string | undefined): Promise<void> {
    const after = head ?? "";
    this.database.transaction(() => {
      for (const table of THREAD_TABLES) {
        this.#sql(`DELETE FROM ${table} WHERE thread_id = ? AND checkpoint_id > ?`).run(threadId, after);
      }
    });
    this.forgetThread(threadId);
  }

  async copyThread(fromThreadId: string, toThreadId: string): Promise<void> {
    this.database.transaction(() => {
      this.#sql(
          `INSERT INTO agent_checkpoints SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata_type, metadata
           FROM agent_checkpoints WHERE thread_id = ?`,
        )
        .run(toThreadId, fromThreadId);
      this.#sql(
          `INSERT INTO agent_checkpoint_blobs SELECT ?, checkpoint_ns, channel, version, checkpoint_id, type, blob
           FROM agent_checkpoint_blobs WHERE thread_id = ?`,
        )
        .run(toThreadId, fromThreadId);
      this.#sql(
          `INSERT INTO agent_checkpoint_writes SELECT ?, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, type, blob
           FROM agent_checkpoint_writes WHERE thread_id = ?`,
        )
        .run(toThreadId, fromThreadId);
      this.#sql("INSERT INTO agent_messages SELECT ?, seq, checkpoint_id, type, data FROM agent_messages WHERE thread_id = ?")
        .run(toThreadId, fromThreadId);
      this.#sql("INSERT INTO agent_message_text SELECT ?, seq, checkpoint_id, text FROM agent_message_text WHERE thread_id = ?").run(toThreadId, fromThreadId);
      // A source not indexed yet: neither is its copy.
      this.#sql("INSERT OR IGNORE INTO agent_message_text_pending SELECT ? FROM agent_message_text_pending WHERE thread_id = ?").run(toThreadId, fromThreadId);
      // From the original's counter: its last row may hold several messages, so max(seq) + 1
      // could hand out a number that row already holds.
      this.#sql(
        `INSERT INTO agent_message_counters (thread_id, next_seq)
         SELECT @to, max(coalesce((SELECT next_seq FROM agent_message_counters WHERE thread_id = @from), 0), coalesce(max(seq) + 1, 0))
         FROM agent_messages WHERE thread_id = @from
         ON CONFLICT (thread_id) DO UPDATE SET next_seq = max(next_seq, excluded.next_seq)`,
      ).run({ to: toThreadId, from: fromThreadId });
    });
    this.forgetThread(toThreadId);
  }

  async indexMessageText(limit: number): Promise<number> {
    const pending = this.#sql("SELECT thread_id FROM agent_message_text_pending LIMIT ?").all(limit) as Array<{ thread_id: string }>;
    for (const { thread_id: threadId } of pending) {
      const rows = this.#sql("SELECT seq, checkpoint_id, type, data FROM agent_messages WHERE thread_id = ? ORDER BY seq").all(threadId) as Array<MessageRow & { checkpoint_id: string }>;
      const texts = await this.textsOf(rows);
      // Only messages still there: a run reverted while they were decoded took its own away.
      const insert = this.#sql(
        `INSERT OR IGNORE INTO agent_message_text (thread_id, seq, checkpoint_id, text)
         SELECT @thread, @seq, @checkpoint, @text WHERE EXISTS (SELECT 1 FROM agent_messages WHERE thread_id = @thread AND seq = @rowSeq)`,
      );
      this.database.transaction(() => {
        for (const text of texts) insert.run({ thread: threadId, seq: text.seq, checkpoint: text.checkpointId, text: text.text, rowSeq: text.rowSeq });
        this.#sql("DELETE FROM agent_message_text_pending WHERE thread_id = ?").run(threadId);
      });
    }
    return pending.length;
  }

  /** Closes the database if this saver opened it or was asked to (the service's storage does). */
  async close(): Promise<void> {
    if (this.#ownsDatabase) this.database.close();
  }

  async listThreads(options: { limit?: number } = {}): Promise<ThreadHead[]> {
    // With max(), SQLite takes the bare columns from the row holding the maximum: the head.
    const heads = this.#sql(
      "SELECT thread_id, max(checkpoint_id) AS checkpoint_id, checkpoint FROM agent_checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id",
    ).all() as Array<{ thread_id: string; checkpoint_id: string; checkpoint: string | Uint8Array }>;
    return newestThreads(heads, options.limit);
  }

  /**
   * Applies the retention: keeps the newest N root checkpoints of the thread and the blobs they
   * still use. Called after a run succeeds, never inside one: pruning mid-run could delete the
   * checkpoint a failed run must be reverted to.
   */
  async pruneThread(threadId: string): Promise<void> {
    if (this.#retention === undefined) return;
    const keep = this.#retention;
    this.database.transaction(() => this.#prune(threadId, keep), { write: true });
  }

  #prune(threadId: string, keep: number): void {
    const cutoff = this.#sql("SELECT checkpoint_id FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1 OFFSET ?")
      .get(threadId, keep) as { checkpoint_id: string } | undefined;
    if (!cutoff) return;
    this.#sql("DELETE FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_id <= ?").run(threadId, cutoff.checkpoint_id);
    this.#sql("DELETE FROM agent_checkpoint_writes WHERE thread_id = ? AND checkpoint_id <= ?").run(threadId, cutoff.checkpoint_id);
    // A blob written by a pruned checkpoint survives while a kept checkpoint still uses its version.
    const kept = this.#sql("SELECT checkpoint_ns, checkpoint FROM agent_checkpoints WHERE thread_id = ?").all(threadId) as Array<{
      checkpoint_ns: string;
      checkpoint: string | Uint8Array;
    }>;
    const used = kept.flatMap(({ checkpoint_ns: namespace, checkpoint }) =>
      Object.entries(readCheckpoint(checkpoint).channel_versions).map(([channel, version]) => `${namespace}\u0000${channel}\u0000${version}`),
    );
    this.#sql(
        `DELETE FROM agent_checkpoint_blobs WHERE thread_id = ? AND checkpoint_id <= ?
           AND checkpoint_ns || char(0) || channel || char(0) || version NOT IN (SELECT value FROM json_each(?))`,
      )
      .run(threadId, cutoff.checkpoint_id, JSON.stringify(used));
  }

  protected async toTuple(row: CheckpointRow): Promise<CheckpointTuple> {
    const stored = readCheckpoint(row.checkpoint);
    const select = this.#sql("SELECT channel, type, blob FROM agent_checkpoint_blobs WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?");
    const blobs = blobVersions(stored).map(([channel, version]) => select.get(row.thread_id, row.checkpoint_ns, channel, version) as BlobRow | undefined);
    const writes = this.#sql(
      `SELECT task_id, channel, type, blob FROM agent_checkpoint_writes
       WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? ORDER BY task_path, task_id, idx`,
    ).all(row.thread_id, row.checkpoint_ns, row.checkpoint_id) as WriteRow[];
    return this.buildTuple(
      row,
      stored,
      blobs.filter((blob): blob is BlobRow => blob !== undefined),
      writes,
      (start, end) =>
        this.#sql(
          `SELECT seq, type, data FROM agent_messages WHERE thread_id = @thread AND seq < @end
             AND seq >= coalesce((SELECT max(seq) FROM agent_messages WHERE thread_id = @thread AND seq <= @start), @start)`,
        ).all({ thread: row.thread_id, start, end }) as MessageRow[],
      () =>
        this.#sql(
          `SELECT channel, type, blob FROM agent_checkpoint_writes
           WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? AND channel = ? ORDER BY task_path, task_id, idx`,
        ).all(row.thread_id, row.checkpoint_ns, row.parent_checkpoint_id, TASKS) as BlobRow[],
    );
  }
}

export { DATABASE_FILE };

/**
 * Opens the service's checkpoint database in `dataDir`, creating the folder if needed; closing
 * the saver closes the database. `retention` keeps only the newest N checkpoints of each thread
 * (messages are always kept).
 */
export function openSqliteCheckpointer(dataDir: string, options: { retention?: number } = {}): SqliteCheckpointer {
  return new SqliteCheckpointer(databaseFileIn(dataDir), options);
}
