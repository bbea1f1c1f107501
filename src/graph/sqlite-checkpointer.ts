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
import type { BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
  TASKS,
  WRITES_IDX_MAP,
  copyCheckpoint,
  maxChannelVersion,
} from "@langchain/langgraph-checkpoint";
import Database from "better-sqlite3";
import type { RevertibleCheckpointer } from "./checkpointer.js";
import { deepEqual } from "./deep-equal.js";
import { VersionClock } from "./version-clock.js";
import { type ListPlan, MESSAGE_LOG, MessageLogCache, type MessageRow, type Ranges, isMessageList, toRanges } from "./message-log.js";

/** Blob type of a channel that was cleared. */
const EMPTY = "empty";
/** Distinct SQL texts kept prepared. */
const STATEMENT_CACHE_LIMIT = 256;

const MIGRATIONS: string[] = [
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
];

interface CheckpointRow {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  checkpoint: string;
  metadata_type: string;
  metadata: Buffer;
}

/** Options of `SqliteCheckpointer`. */
export interface SqliteCheckpointerOptions {
  /** Keep only the newest N root checkpoints of each thread (messages are always kept). */
  retention?: number;
  serde?: SerializerProtocol;
}

/** See the module comment. Pass `":memory:"` for a private in-memory database. */
export class SqliteCheckpointer extends BaseCheckpointSaver implements RevertibleCheckpointer {
  readonly db: Database.Database;
  readonly #retention: number | undefined;
  readonly #messages = new MessageLogCache();
  readonly #versions = new VersionClock();
  readonly #statements = new Map<string, Database.Statement>();

  constructor(path: string, options: SqliteCheckpointerOptions = {}) {
    super(options.serde);
    this.#retention = options.retention;
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    // In WAL mode NORMAL loses no committed transaction when the process dies; only a power cut
    // can take back the last few, and it is much cheaper than FULL.
    this.db.pragma("synchronous = NORMAL");
    this.#migrate();
  }

  /** Prepares each SQL text once: preparing costs more than running these small statements. */
  #sql(source: string): Database.Statement {
    let statement = this.#statements.get(source);
    if (!statement) {
      // List queries build their SQL from the filters given; keep the cache from growing without end.
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.clear();
      statement = this.db.prepare(source);
      this.#statements.set(source, statement);
    }
    return statement;
  }

  #migrate(): void {
    this.db.exec("CREATE TABLE IF NOT EXISTS agent_checkpoint_migrations (version INTEGER PRIMARY KEY)");
    // IMMEDIATE takes the write lock first, so two processes starting at once cannot both migrate.
    this.db
      .transaction(() => {
        const row = this.db.prepare("SELECT max(version) AS version FROM agent_checkpoint_migrations").get() as { version: number | null };
        for (let version = (row.version ?? 0) + 1; version <= MIGRATIONS.length; version += 1) {
          this.db.exec(MIGRATIONS[version - 1] as string);
          this.db.prepare("INSERT INTO agent_checkpoint_migrations (version) VALUES (?)").run(version);
        }
      })
      .immediate();
  }

  /** Increasing, and unique across the branches of a thread (see `VersionClock`). */
  override getNextVersion(current: number | undefined): number {
    return this.#versions.next(current);
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const { thread_id: threadId, checkpoint_ns: namespace = "", checkpoint_id: checkpointId } = config.configurable ?? {};
    if (threadId === undefined) return undefined;
    const row = (
      checkpointId
        ? this.#sql("SELECT * FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?")
            .get(String(threadId), namespace, checkpointId)
        : this.#sql("SELECT * FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id DESC LIMIT 1")
            .get(String(threadId), namespace)
    ) as CheckpointRow | undefined;
    return row ? this.#toTuple(row) : undefined;
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const { limit, before, filter } = options;
    const configurable = config.configurable ?? {};
    const clauses: string[] = [];
    const parameters: unknown[] = [];
    if (configurable.thread_id !== undefined) {
      clauses.push("thread_id = ?");
      parameters.push(String(configurable.thread_id));
    }
    if (configurable.checkpoint_ns !== undefined && configurable.checkpoint_ns !== null) {
      clauses.push("checkpoint_ns = ?");
      parameters.push(configurable.checkpoint_ns);
    }
    if (configurable.checkpoint_id !== undefined) {
      clauses.push("checkpoint_id = ?");
      parameters.push(configurable.checkpoint_id);
    }
    if (before?.configurable?.checkpoint_id !== undefined) {
      clauses.push("checkpoint_id < ?");
      parameters.push(before.configurable.checkpoint_id);
    }
    const wanted = Object.entries(filter ?? {}).filter(([, value]) => value !== undefined);
    // A metadata filter is checked on decoded metadata, so the limit applies after it.
    const sqlLimit = wanted.length === 0 && limit !== undefined ? " LIMIT ?" : "";
    if (sqlLimit) parameters.push(Math.max(0, Math.floor(limit as number)));
    const where = clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "";
    // Read all rows first: decoding a tuple runs other statements on the same connection.
    const rows = this.#sql(`SELECT * FROM agent_checkpoints ${where} ORDER BY checkpoint_id DESC${sqlLimit}`).all(...parameters) as CheckpointRow[];
    let yielded = 0;
    for (const row of rows) {
      if (limit !== undefined && yielded >= limit) return;
      if (wanted.length > 0) {
        const metadata = (await this.serde.loadsTyped(row.metadata_type, row.metadata)) as Record<string, unknown>;
        if (!wanted.every(([key, value]) => deepEqual(metadata?.[key], value))) continue;
      }
      yielded += 1;
      yield await this.#toTuple(row);
    }
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const configurable = config.configurable ?? {};
    if (configurable.thread_id === undefined) throw new Error('Missing "thread_id" field in passed "config.configurable".');
    const threadId = String(configurable.thread_id);
    const namespace: string = configurable.checkpoint_ns ?? "";
    const parentId: string | undefined = configurable.checkpoint_id;
    const { channel_values: values, ...rest } = copyCheckpoint(checkpoint);

    const blobs: Array<[string, string, string, Uint8Array | string | null]> = [];
    const lists: Array<{ channel: string; version: string; plan: ListPlan }> = [];
    const fresh: BaseMessage[] = [];
    for (const [channel, version] of Object.entries(newVersions)) {
      const value = values[channel];
      if (value === undefined) blobs.push([channel, String(version), EMPTY, null]);
      else if (isMessageList(value)) lists.push({ channel, version: String(version), plan: this.#messages.plan(threadId, value, fresh) });
      else {
        const [type, bytes] = await this.serde.dumpsTyped(value);
        blobs.push([channel, String(version), type, bytes]);
      }
    }
    const serializedMessages = await Promise.all(fresh.map((message) => this.serde.dumpsTyped(message)));
    const [metadataType, metadataBytes] = await this.serde.dumpsTyped(metadata);

    let firstSeq = 0;
    this.db.transaction(() => {
      if (fresh.length > 0) {
        const counter = this.#sql(
          `INSERT INTO agent_message_counters (thread_id, next_seq)
           VALUES (@thread, (SELECT coalesce(max(seq) + 1, 0) FROM agent_messages WHERE thread_id = @thread) + @count)
           ON CONFLICT (thread_id) DO UPDATE SET next_seq = next_seq + @count
           RETURNING next_seq`,
        ).get({ thread: threadId, count: fresh.length }) as { next_seq: number };
        firstSeq = counter.next_seq - fresh.length;
        const insertMessage = this.#sql("INSERT INTO agent_messages (thread_id, seq, checkpoint_id, type, data) VALUES (?, ?, ?, ?, ?)");
        for (const [index, [type, bytes]] of serializedMessages.entries()) insertMessage.run(threadId, firstSeq + index, checkpoint.id, type, bytes);
      }
      for (const { channel, version, plan } of lists) blobs.push([channel, version, MESSAGE_LOG, JSON.stringify(toRanges(plan, firstSeq))]);
      const insertBlob = this.#sql(
        "INSERT OR REPLACE INTO agent_checkpoint_blobs (thread_id, checkpoint_ns, channel, version, checkpoint_id, type, blob) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      for (const [channel, version, type, blob] of blobs) insertBlob.run(threadId, namespace, channel, version, checkpoint.id, type, blob);
      this.#sql(
        `INSERT OR REPLACE INTO agent_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata_type, metadata)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(threadId, namespace, checkpoint.id, parentId ?? null, JSON.stringify(rest), metadataType, metadataBytes);
    }).immediate();
    for (const [index, message] of fresh.entries()) this.#messages.remember(threadId, firstSeq + index, message);
    return { configurable: { thread_id: threadId, checkpoint_ns: namespace, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ""): Promise<void> {
    const configurable = config.configurable ?? {};
    if (configurable.thread_id === undefined) throw new Error("Missing thread_id field in config.configurable.");
    if (configurable.checkpoint_id === undefined) throw new Error("Missing checkpoint_id field in config.configurable.");
    const rows = await Promise.all(
      writes.map(async ([channel, value], index) => {
        const [type, bytes] = await this.serde.dumpsTyped(value);
        return [WRITES_IDX_MAP[channel] ?? index, channel, type, bytes] as const;
      }),
    );
    // Special writes (errors, interrupts) replace; ordinary ones are written once per task.
    const verb = writes.every(([channel]) => channel in WRITES_IDX_MAP) ? "INSERT OR REPLACE" : "INSERT OR IGNORE";
    const insert = this.#sql(
      `${verb} INTO agent_checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, type, blob)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const [idx, channel, type, bytes] of rows) {
        insert.run(String(configurable.thread_id), configurable.checkpoint_ns ?? "", configurable.checkpoint_id, taskId, idx, taskPath, channel, type, bytes);
      }
    })();
  }

  async deleteThread(threadId: string): Promise<void> {
    this.db.transaction(() => {
      for (const table of ["agent_checkpoints", "agent_checkpoint_blobs", "agent_checkpoint_writes", "agent_messages"]) {
        this.#sql(`DELETE FROM ${table} WHERE thread_id = ?`).run(threadId);
      }
    })();
    this.#messages.forget(threadId);
  }

  async headCheckpointId(threadId: string): Promise<string | undefined> {
    const row = this.#sql("SELECT max(checkpoint_id) AS head FROM agent_checkpoints WHERE thread_id = ? AND checkpoint_ns = ''")
      .get(threadId) as { head: string | null };
    return row.head ?? undefined;
  }

  async revertThread(threadId: string, head: string | undefined): Promise<void> {
    const after = head ?? "";
    this.db.transaction(() => {
      for (const table of ["agent_checkpoints", "agent_checkpoint_blobs", "agent_checkpoint_writes", "agent_messages"]) {
        this.#sql(`DELETE FROM ${table} WHERE thread_id = ? AND checkpoint_id > ?`).run(threadId, after);
      }
    })();
    this.#messages.forget(threadId);
  }

  async copyThread(fromThreadId: string, toThreadId: string): Promise<void> {
    this.db.transaction(() => {
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
      this.#sql(
        `INSERT INTO agent_message_counters (thread_id, next_seq)
         SELECT ?, coalesce(max(seq) + 1, 0) FROM agent_messages WHERE thread_id = ?
         ON CONFLICT (thread_id) DO UPDATE SET next_seq = max(next_seq, excluded.next_seq)`,
      ).run(toThreadId, fromThreadId);
    })();
    this.#messages.forget(toThreadId);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /**
   * Applies the retention: keeps the newest N root checkpoints of the thread and the blobs they
   * still use. Called after a run succeeds, never inside one: pruning mid-run could delete the
   * checkpoint a failed run must be reverted to.
   */
  async pruneThread(threadId: string): Promise<void> {
    if (this.#retention === undefined) return;
    const keep = this.#retention;
    this.db.transaction(() => this.#prune(threadId, keep)).immediate();
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
      checkpoint: string;
    }>;
    const used = kept.flatMap(({ checkpoint_ns: namespace, checkpoint }) =>
      Object.entries((JSON.parse(checkpoint) as Checkpoint).channel_versions).map(([channel, version]) => `${namespace}\u0000${channel}\u0000${version}`),
    );
    this.#sql(
        `DELETE FROM agent_checkpoint_blobs WHERE thread_id = ? AND checkpoint_id <= ?
           AND checkpoint_ns || char(0) || channel || char(0) || version NOT IN (SELECT value FROM json_each(?))`,
      )
      .run(threadId, cutoff.checkpoint_id, JSON.stringify(used));
  }

  async #toTuple(row: CheckpointRow): Promise<CheckpointTuple> {
    const stored = JSON.parse(row.checkpoint) as Omit<Checkpoint, "channel_values">;
    const channelValues: Record<string, unknown> = {};
    const select = this.#sql(
      "SELECT type, blob FROM agent_checkpoint_blobs WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?",
    );
    for (const [channel, version] of Object.entries(stored.channel_versions)) {
      const blob = select.get(row.thread_id, row.checkpoint_ns, channel, String(version)) as { type: string; blob: Buffer | null } | undefined;
      if (!blob || blob.type === EMPTY) continue;
      channelValues[channel] =
        blob.type === MESSAGE_LOG
          ? await this.#messages.resolve(
              row.thread_id,
              JSON.parse(String(blob.blob)) as Ranges,
              (start, end) => this.#sql("SELECT seq, type, data FROM agent_messages WHERE thread_id = ? AND seq >= ? AND seq < ?").all(row.thread_id, start, end) as MessageRow[],
              (type, data) => this.serde.loadsTyped(type, data),
            )
          : await this.serde.loadsTyped(blob.type, blob.blob ?? "");
    }
    const writes = this.#sql(
        `SELECT task_id, channel, type, blob FROM agent_checkpoint_writes
         WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? ORDER BY task_path, task_id, idx`,
      )
      .all(row.thread_id, row.checkpoint_ns, row.checkpoint_id) as Array<{ task_id: string; channel: string; type: string; blob: Buffer | null }>;
    const pendingWrites: CheckpointPendingWrite[] = await Promise.all(
      writes.map(async (write) => [write.task_id, write.channel, await this.serde.loadsTyped(write.type, write.blob ?? "")] as CheckpointPendingWrite),
    );
    if (stored.v < 4 && row.parent_checkpoint_id) await this.#migratePendingSends(row, stored, channelValues);
    const configurable = { thread_id: row.thread_id, checkpoint_ns: row.checkpoint_ns };
    return {
      config: { configurable: { ...configurable, checkpoint_id: row.checkpoint_id } },
      checkpoint: { ...stored, channel_values: channelValues } as Checkpoint,
      metadata: (await this.serde.loadsTyped(row.metadata_type, row.metadata)) as CheckpointMetadata,
      parentConfig: row.parent_checkpoint_id ? { configurable: { ...configurable, checkpoint_id: row.parent_checkpoint_id } } : undefined,
      pendingWrites,
    };
  }

  /**
   * Checkpoints of format < 4 kept `Send`s as writes of their parent; current LangGraph expects
   * them in the `__pregel_tasks` channel.
   */
  async #migratePendingSends(row: CheckpointRow, stored: Omit<Checkpoint, "channel_values">, channelValues: Record<string, unknown>): Promise<void> {
    const sends = this.#sql(
        `SELECT type, blob FROM agent_checkpoint_writes
         WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? AND channel = ? ORDER BY task_path, task_id, idx`,
      )
      .all(row.thread_id, row.checkpoint_ns, row.parent_checkpoint_id, TASKS) as Array<{ type: string; blob: Buffer | null }>;
    channelValues[TASKS] = await Promise.all(sends.map((send) => this.serde.loadsTyped(send.type, send.blob ?? "")));
    const versions = Object.values(stored.channel_versions);
    stored.channel_versions[TASKS] = versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined);
  }
}
