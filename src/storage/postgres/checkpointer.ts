/**
 * The message-log checkpoint saver on PostgreSQL: the same design as `SqliteCheckpointer`
 * (channel values once per version, each message once, checkpoints referencing ranges of a
 * per-thread log), for several server instances sharing one database. Sequence numbers come
 * from a counter row updated in the write transaction, so instances never collide.
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
import type { PoolClient } from "pg";
import type { MigrationSet } from "../migrations.js";
import type { PostgresDatabase } from "./database.js";
import { type BlobRow, type CheckpointRow, MessageLogSaver, type StoredCheckpointJson, type ThreadHead, type WriteRow, blobVersions, newestThreads, readCheckpoint } from "../message-log/saver.js";
import type { MessageRow } from "../message-log/log.js";

/** The checkpoints' tables; numbered in `agent_checkpoint_migrations` since the first release. */
export const checkpointMigrations = (schema: string): MigrationSet => ({
  table: "agent_checkpoint_migrations",
  steps: [
  `CREATE TABLE ${schema}.agent_checkpoints (
     thread_id TEXT COLLATE "C" NOT NULL,
     checkpoint_ns TEXT COLLATE "C" NOT NULL,
     checkpoint_id TEXT COLLATE "C" NOT NULL,
     parent_checkpoint_id TEXT COLLATE "C",
     checkpoint TEXT NOT NULL,
     metadata_type TEXT NOT NULL,
     metadata BYTEA NOT NULL,
     PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
   );
   CREATE TABLE ${schema}.agent_checkpoint_blobs (
     thread_id TEXT COLLATE "C" NOT NULL,
     checkpoint_ns TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     version TEXT COLLATE "C" NOT NULL,
     checkpoint_id TEXT COLLATE "C" NOT NULL,
     type TEXT NOT NULL,
     blob BYTEA,
     PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
   );
   CREATE TABLE ${schema}.agent_checkpoint_writes (
     thread_id TEXT COLLATE "C" NOT NULL,
     checkpoint_ns TEXT COLLATE "C" NOT NULL,
     checkpoint_id TEXT COLLATE "C" NOT NULL,
     task_id TEXT COLLATE "C" NOT NULL,
     idx INTEGER NOT NULL,
     task_path TEXT COLLATE "C" NOT NULL,
     channel TEXT NOT NULL,
     type TEXT NOT NULL,
     blob BYTEA,
     PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
   );
   CREATE TABLE ${schema}.agent_messages (
     thread_id TEXT COLLATE "C" NOT NULL,
     seq BIGINT NOT NULL,
     checkpoint_id TEXT COLLATE "C" NOT NULL,
     type TEXT NOT NULL,
     data BYTEA NOT NULL,
     PRIMARY KEY (thread_id, seq)
   );
   CREATE TABLE ${schema}.agent_message_counters (
     thread_id TEXT COLLATE "C" PRIMARY KEY,
     next_seq BIGINT NOT NULL
   );`,
  // A checkpoint's JSON may be deflated from here on (see compression.ts); rows written before
  // stay plain JSON. Messages, values and writes may be too (a type ending in "+deflate1"),
  // which needs no table change.
  `ALTER TABLE ${schema}.agent_checkpoints ALTER COLUMN checkpoint TYPE BYTEA USING convert_to(checkpoint, 'UTF8');`,
  // What thread search by text reads (see message-text.ts): each message's searchable text,
  // written and deleted with its log row. Threads already holding messages are listed as
  // pending, to be indexed in the background at start.
  `CREATE TABLE ${schema}.agent_message_text (
     thread_id TEXT COLLATE "C" NOT NULL,
     seq BIGINT NOT NULL,
     checkpoint_id TEXT COLLATE "C" NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (thread_id, seq)
   );
   CREATE TABLE ${schema}.agent_message_text_pending (thread_id TEXT COLLATE "C" PRIMARY KEY);
   INSERT INTO ${schema}.agent_message_text_pending SELECT DISTINCT thread_id FROM ${schema}.agent_messages;`,
  ],
});

/** Tables holding a thread's rows, each with its `checkpoint_id` (a revert deletes the newer ones). */
const THREAD_TABLES = ["agent_checkpoints", "agent_checkpoint_blobs", "agent_checkpoint_writes", "agent_messages", "agent_message_text"] as const;

/** Options of `PostgresCheckpointer`. */
export interface PostgresCheckpointerOptions {
  /** Keep only the newest N root checkpoints of each thread (messages are always kept). */
  retention?: number;
  serde?: SerializerProtocol;
  /** Whether `close()` closes the database (the service's storage asks for it). */
  closesDatabase?: boolean;
}

const bytes = (value: Uint8Array | string) => (typeof value === "string" ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength));

/**
 * See the module comment. The tables are created on first use (or by an explicit `setup()`, which
 * also tells a server at start whether the database is reachable).
 */
export class PostgresCheckpointer extends MessageLogSaver {
  readonly database: PostgresDatabase;
  readonly schema: string;
  readonly #retention: number | undefined;
  readonly #closesDatabase: boolean;

  constructor(database: PostgresDatabase, options: PostgresCheckpointerOptions = {}) {
    super(options.serde);
    this.database = database;
    this.schema = database.schema;
    this.#retention = options.retention;
    this.#closesDatabase = options.closesDatabase ?? false;
  }

  /** Creates or migrates the tables; idempotent and safe when several instances start at once. */
  setup(): Promise<void> {
    return this.database.migrate(checkpointMigrations(this.schema));
  }

  protected async checkpointRow(config: RunnableConfig): Promise<CheckpointRow | undefined> {
    const { thread_id: threadId, checkpoint_ns: namespace = "", checkpoint_id: checkpointId } = config.configurable ?? {};
    if (threadId === undefined) return undefined;
    const { rows } = checkpointId
      ? await this.database.query<CheckpointRow>(
          `SELECT * FROM ${this.schema}.agent_checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3`,
          [String(threadId), namespace, checkpointId],
        )
      : await this.database.query<CheckpointRow>(
          `SELECT * FROM ${this.schema}.agent_checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2 ORDER BY checkpoint_id DESC LIMIT 1`,
          [String(threadId), namespace],
        );
    return rows[0];
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    await this.setup();
    const query = this.listQuery(config, options);
    const parameters: unknown[] = [];
    const clauses = query.clauses.map(([clause, value]) => {
      parameters.push(value);
      return clause.replace("?", `$${parameters.length}`);
    });
    let sql = `SELECT * FROM ${this.schema}.agent_checkpoints ${clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : ""} ORDER BY checkpoint_id DESC`;
    if (query.limit !== undefined) {
      parameters.push(query.limit);
      sql += ` LIMIT $${parameters.length}`;
    }
    const { rows } = await this.database.query<CheckpointRow>(sql, parameters);
    yield* this.tuplesOf(rows, options);
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    await this.setup();
    const prepared = await this.preparePut(config, checkpoint, metadata, newVersions);
    const { threadId, namespace, checkpointId } = prepared;
    const schema = this.schema;
    const firstSeq = await this.database.transaction(async (client) => {
      let first = 0;
      if (prepared.fresh.length > 0) {
        const { rows } = await client.query<{ next_seq: string }>(
          `INSERT INTO ${schema}.agent_message_counters (thread_id, next_seq)
           VALUES ($1, (SELECT coalesce(max(seq) + 1, 0) FROM ${schema}.agent_messages WHERE thread_id = $1) + $2)
           ON CONFLICT (thread_id) DO UPDATE SET next_seq = ${schema}.agent_message_counters.next_seq + $2
           RETURNING next_seq`,
          [threadId, prepared.fresh.length],
        );
        first = Number(rows[0]!.next_seq) - prepared.fresh.length;
        const { messageRows } = prepared;
        await client.query(
          `INSERT INTO ${schema}.agent_messages (thread_id, seq, checkpoint_id, type, data)
           SELECT $1, $6::bigint + at, $2, type, data FROM unnest($3::int[], $4::text[], $5::bytea[]) AS fresh(at, type, data)`,
          [threadId, checkpointId, messageRows.map((row) => row.at), messageRows.map((row) => row.type), messageRows.map((row) => bytes(row.data)), first],
        );
        if (prepared.texts.length > 0) {
          await client.query(
            `INSERT INTO ${schema}.agent_message_text (thread_id, seq, checkpoint_id, text)
             SELECT $1, $3::bigint + at, $2, text FROM unnest($4::int[], $5::text[]) AS fresh(at, text)`,
            [threadId, checkpointId, first, prepared.texts.map((text) => text.at), prepared.texts.map((text) => text.text)],
          );
        }
      }
      const rows = this.rowsOf(prepared, first);
      const { blobs } = rows;
      if (blobs.length > 0) {
        await client.query(
          `INSERT INTO ${schema}.agent_checkpoint_blobs (thread_id, checkpoint_ns, channel, version, checkpoint_id, type, blob)
           SELECT $1, $2, channel, version, $3, type, blob FROM unnest($4::text[], $5::text[], $6::text[], $7::bytea[]) AS b(channel, version, type, blob)
           ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO UPDATE SET checkpoint_id = excluded.checkpoint_id, type = excluded.type, blob = excluded.blob`,
          [
            threadId,
            namespace,
            checkpointId,
            blobs.map((blob) => blob[0]),
            blobs.map((blob) => blob[1]),
            blobs.map((blob) => blob[2]),
            blobs.map((blob) => (blob[3] === null ? null : bytes(blob[3]))),
          ],
        );
      }
      await client.query(
        `INSERT INTO ${schema}.agent_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata_type, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE
           SET parent_checkpoint_id = excluded.parent_checkpoint_id, checkpoint = excluded.checkpoint,
               metadata_type = excluded.metadata_type, metadata = excluded.metadata`,
        [threadId, namespace, checkpointId, prepared.parentId, rows.checkpoint, prepared.metadataType, bytes(prepared.metadata)],
      );
      return first;
    });
    return this.finishPut(prepared, firstSeq);
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ""): Promise<void> {
    await this.setup();
    if (writes.length === 0) return;
    const prepared = await this.prepareWrites(config, writes);
    const conflict = prepared.replace ? "DO UPDATE SET channel = excluded.channel, type = excluded.type, blob = excluded.blob, task_path = excluded.task_path" : "DO NOTHING";
    await this.database.query(
      `INSERT INTO ${this.schema}.agent_checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, type, blob)
       SELECT $1, $2, $3, $4, idx, $5, channel, type, blob FROM unnest($6::int[], $7::text[], $8::text[], $9::bytea[]) AS w(idx, channel, type, blob)
       ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) ${conflict}`,
      [
        prepared.threadId,
        prepared.namespace,
        prepared.checkpointId,
        taskId,
        taskPath,
        prepared.rows.map((row) => row.idx),
        prepared.rows.map((row) => row.channel),
        prepared.rows.map((row) => row.type),
        prepared.rows.map((row) => bytes(row.bytes)),
      ],
    );
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.setup();
    await this.database.transaction(async (client) => {
      for (const table of [...THREAD_TABLES, "agent_message_text_pending"]) {
        await client.query(`DELETE FROM ${this.schema}.${table} WHERE thread_id = $1`, [threadId]);
      }
    });
    this.forgetThread(threadId);
  }

  /** Within the 2 KB past which PostgreSQL moves a row's largest values to TOAST, the keys and columns beside. */
  protected readonly messageRowBytes = 1800;

  protected async loadStoredCheckpoint(threadId: string, namespace: string, checkpointId: string): Promise<StoredCheckpointJson | undefined> {
    const { rows } = await this.database.query<{ checkpoint: Uint8Array }>(
      `SELECT checkpoint FROM ${this.schema}.agent_checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3`,
      [threadId, namespace, checkpointId],
    );
    return rows[0] ? readCheckpoint(rows[0].checkpoint) : undefined;
  }

  async headCheckpointId(threadId: string): Promise<string | undefined> {
    await this.setup();
    const { rows } = await this.database.query<{ head: string | null }>(
      `SELECT max(checkpoint_id) AS head FROM ${this.schema}.agent_checkpoints WHERE thread_id = $1 AND checkpoint_ns = ''`,
      [threadId],
    );
    return rows[0]?.head ?? undefined;
  }

  async revertThread(threadId: string, head: string | undefined): Promise<void> {
    await this.setup();
    await this.database.transaction(async (client) => {
      for (const table of THREAD_TABLES) {
        await client.query(`DELETE FROM ${this.schema}.${table} WHERE thread_id = $1 AND checkpoint_id > $2`, [threadId, head ?? ""]);
      }
    });
    this.forgetThread(threadId);
  }

  async copyThread(fromThreadId: string, toThreadId: string): Promise<void> {
    await this.setup();
    const schema = this.schema;
    await this.database.transaction(async (client) => {
      await client.query(
        `INSERT INTO ${schema}.agent_checkpoints SELECT $2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata_type, metadata
         FROM ${schema}.agent_checkpoints WHERE thread_id = $1`,
        [fromThreadId, toThreadId],
      );
      await client.query(
        `INSERT INTO ${schema}.agent_checkpoint_blobs SELECT $2, checkpoint_ns, channel, version, checkpoint_id, type, blob
         FROM ${schema}.agent_checkpoint_blobs WHERE thread_id = $1`,
        [fromThreadId, toThreadId],
      );
      await client.query(
        `INSERT INTO ${schema}.agent_checkpoint_writes SELECT $2, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, type, blob
         FROM ${schema}.agent_checkpoint_writes WHERE thread_id = $1`,
        [fromThreadId, toThreadId],
      );
      await client.query(`INSERT INTO ${schema}.agent_messages SELECT $2, seq, checkpoint_id, type, data FROM ${schema}.agent_messages WHERE thread_id = $1`, [
        fromThreadId,
        toThreadId,
      ]);
      await client.query(`INSERT INTO ${schema}.agent_message_text SELECT $2, seq, checkpoint_id, text FROM ${schema}.agent_message_text WHERE thread_id = $1`, [fromThreadId, toThreadId]);
      // A source not indexed yet: neither is its copy.
      await client.query(
        `INSERT INTO ${schema}.agent_message_text_pending SELECT $2 FROM ${schema}.agent_message_text_pending WHERE thread_id = $1 ON CONFLICT DO NOTHING`,
        [fromThreadId, toThreadId],
      );
      // From the original's counter: its last row may hold several messages (see SqliteCheckpointer).
      await client.query(
        `INSERT INTO ${schema}.agent_message_counters (thread_id, next_seq)
         SELECT $2, greatest((SELECT next_seq FROM ${schema}.agent_message_counters WHERE thread_id = $1), coalesce(max(seq) + 1, 0))
         FROM ${schema}.agent_messages WHERE thread_id = $1
         ON CONFLICT (thread_id) DO UPDATE SET next_seq = greatest(${schema}.agent_message_counters.next_seq, excluded.next_seq)`,
        [fromThreadId, toThreadId],
      );
    });
    this.forgetThread(toThreadId);
  }

  async listThreads(options: { limit?: number } = {}): Promise<ThreadHead[]> {
    await this.setup();
    // The heads (one per thread, by the primary key's order); their times are read from their JSON.
    const { rows } = await this.database.query<{ thread_id: string; checkpoint_id: string; checkpoint: Uint8Array }>(
      `SELECT DISTINCT ON (thread_id) thread_id, checkpoint_id, checkpoint FROM ${this.schema}.agent_checkpoints
       WHERE checkpoint_ns = '' ORDER BY thread_id, checkpoint_id DESC`,
    );
    return newestThreads(rows, options.limit);
  }

  async indexMessageText(limit: number): Promise<number> {
    await this.setup();
    const schema = this.schema;
    const { rows: pending } = await this.database.query<{ thread_id: string }>(`SELECT thread_id FROM ${schema}.agent_message_text_pending LIMIT $1`, [limit]);
    for (const { thread_id: threadId } of pending) {
      const { rows } = await this.database.query<MessageRow & { checkpoint_id: string }>(
        `SELECT seq::int AS seq, checkpoint_id, type, data FROM ${schema}.agent_messages WHERE thread_id = $1 ORDER BY seq`,
        [threadId],
      );
      const texts = await this.textsOf(rows);
      await this.database.transaction(async (client) => {
        // Only messages still there: a run reverted while they were decoded took its own away.
        await client.query(
          `INSERT INTO ${schema}.agent_message_text (thread_id, seq, checkpoint_id, text)
           SELECT $1, fresh.seq, fresh.checkpoint_id, fresh.text FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[]) AS fresh(seq, row_seq, checkpoint_id, text)
           WHERE EXISTS (SELECT 1 FROM ${schema}.agent_messages AS messages WHERE messages.thread_id = $1 AND messages.seq = fresh.row_seq)
           ON CONFLICT (thread_id, seq) DO NOTHING`,
          [threadId, texts.map((text) => text.seq), texts.map((text) => text.rowSeq), texts.map((text) => text.checkpointId), texts.map((text) => text.text)],
        );
        await client.query(`DELETE FROM ${schema}.agent_message_text_pending WHERE thread_id = $1`, [threadId]);
      });
    }
    return pending.length;
  }

  /** Closes the database when asked to (the service's storage does); else its owner does. */
  async close(): Promise<void> {
    if (this.#closesDatabase) await this.database.close();
  }

  /** Applies the retention after a run succeeded (see `SqliteCheckpointer.pruneThread`). */
  async pruneThread(threadId: string): Promise<void> {
    if (this.#retention === undefined) return;
    const keep = this.#retention;
    await this.setup();
    await this.database.transaction((client) => this.#prune(client, threadId, keep));
  }

  async #prune(client: PoolClient, threadId: string, keep: number): Promise<void> {
    const schema = this.schema;
    const { rows } = await client.query<{ checkpoint_id: string }>(
      `SELECT checkpoint_id FROM ${schema}.agent_checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1 OFFSET $2`,
      [threadId, keep],
    );
    const cutoff = rows[0]?.checkpoint_id;
    if (!cutoff) return;
    await client.query(`DELETE FROM ${schema}.agent_checkpoints WHERE thread_id = $1 AND checkpoint_id <= $2`, [threadId, cutoff]);
    await client.query(`DELETE FROM ${schema}.agent_checkpoint_writes WHERE thread_id = $1 AND checkpoint_id <= $2`, [threadId, cutoff]);
    // A blob written by a pruned checkpoint survives while a kept checkpoint still uses its version.
    const kept = await client.query<{ checkpoint_ns: string; checkpoint: Uint8Array }>(
      `SELECT checkpoint_ns, checkpoint FROM ${schema}.agent_checkpoints WHERE thread_id = $1`,
      [threadId],
    );
    const used = kept.rows.flatMap(({ checkpoint_ns: namespace, checkpoint }) =>
      Object.entries(readCheckpoint(checkpoint).channel_versions).map(([channel, version]) => `${namespace}\u0001${channel}\u0001${version}`),
    );
    await client.query(
      `DELETE FROM ${schema}.agent_checkpoint_blobs WHERE thread_id = $1 AND checkpoint_id <= $2
         AND NOT (checkpoint_ns || chr(1) || channel || chr(1) || version = ANY($3::text[]))`,
      [threadId, cutoff, used],
    );
  }

  protected async toTuple(row: CheckpointRow): Promise<CheckpointTuple> {
    const schema = this.schema;
    const stored = readCheckpoint(row.checkpoint);
    const versions = blobVersions(stored);
    const [blobs, writes] = await Promise.all([
      versions.length === 0
        ? { rows: [] as BlobRow[] }
        : this.database.query<BlobRow>(
            `SELECT channel, type, blob FROM ${schema}.agent_checkpoint_blobs
             WHERE thread_id = $1 AND checkpoint_ns = $2 AND (channel, version) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
            [row.thread_id, row.checkpoint_ns, versions.map(([channel]) => channel), versions.map(([, version]) => String(version))],
          ),
      this.database.query<WriteRow>(
        `SELECT task_id, channel, type, blob FROM ${schema}.agent_checkpoint_writes
         WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3 ORDER BY task_path, task_id, idx`,
        [row.thread_id, row.checkpoint_ns, row.checkpoint_id],
      ),
    ]);
    return this.buildTuple(
      row,
      stored,
      blobs.rows,
      writes.rows,
      async (start, end) =>
        (
          await this.database.query<MessageRow>(
            `SELECT seq::int AS seq, type, data FROM ${schema}.agent_messages WHERE thread_id = $1 AND seq < $3
               AND seq >= coalesce((SELECT max(seq) FROM ${schema}.agent_messages WHERE thread_id = $1 AND seq <= $2), $2)`,
            [row.thread_id, start, end],
          )
        ).rows,
      async () =>
        (
          await this.database.query<BlobRow>(
            `SELECT channel, type, blob FROM ${schema}.agent_checkpoint_writes
             WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3 AND channel = $4 ORDER BY task_path, task_id, idx`,
            [row.thread_id, row.checkpoint_ns, row.parent_checkpoint_id, TASKS],
          )
        ).rows,
    );
  }
}
