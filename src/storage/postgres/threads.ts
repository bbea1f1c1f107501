import { searchNeedle } from "../message-text.js";
import { WhereClause } from "./where-clause.js";
import type { NewThread, Thread, ThreadFilter, ThreadRepository, ThreadSearch, ThreadStatus } from "../threads.js";
import { SORT_COLUMNS, type ThreadRow, PostgresThreadTables, toThread } from "./thread-tables.js";

/** The columns of a thread's record: not its values projection, which only search reads. */
const THREAD_COLUMNS = "thread_id, owner, metadata, status, created_at, updated_at, ttl_minutes";

/** Threads on PostgreSQL: their records, search and count; their messages are the checkpointer's. */
export class PostgresThreads extends PostgresThreadTables implements ThreadRepository {

  async createThread(thread: NewThread): Promise<Thread | null> {
    const now = this.now();
    const { rows } = await this.database.query<ThreadRow>(
      `INSERT INTO ${this.schema}.agent_threads (thread_id, owner, metadata, status, created_at, updated_at, ttl_minutes, state_values)
       VALUES ($1, $2, $3, 'idle', $4, $4, $5, $6)
       ON CONFLICT (thread_id) DO NOTHING RETURNING ${THREAD_COLUMNS}`,
      [thread.threadId, thread.owner ?? null, JSON.stringify(thread.metadata), now, thread.ttlMinutes ?? null, JSON.stringify(thread.values ?? {})],
    );
    return rows[0] ? toThread(rows[0]) : null;
  }


  async getThread(threadId: string, owner?: string): Promise<Thread | null> {
    const { rows } =
      owner === undefined
        ? await this.database.query<ThreadRow>(`SELECT ${THREAD_COLUMNS} FROM ${this.schema}.agent_threads WHERE thread_id = $1`, [threadId])
        : await this.database.query<ThreadRow>(`SELECT ${THREAD_COLUMNS} FROM ${this.schema}.agent_threads WHERE thread_id = $1 AND owner = $2`, [threadId, owner]);
    return rows[0] ? toThread(rows[0]) : null;
  }


  async threadExists(threadId: string): Promise<boolean> {
    return (await this.database.query(`SELECT 1 FROM ${this.schema}.agent_threads WHERE thread_id = $1`, [threadId])).rows.length > 0;
  }


  async updateThread(threadId: string, patch: { metadata?: Record<string, unknown>; status?: ThreadStatus; ttlMinutes?: number }): Promise<Thread | null> {
    const entries = Object.entries(patch.metadata ?? {});
    const set = Object.fromEntries(entries.filter(([, value]) => value !== null));
    const removed = entries.filter(([, value]) => value === null).map(([key]) => key);
    // One statement: merge the keys, drop the ones set to null, keep the status unless given.
    const { rows } = await this.database.query<ThreadRow>(
      `UPDATE ${this.schema}.agent_threads SET metadata = (metadata || $2::jsonb) - $3::text[], status = coalesce($4, status), updated_at = $5,
         ttl_minutes = coalesce($6, ttl_minutes)
       WHERE thread_id = $1 RETURNING ${THREAD_COLUMNS}`,
      [threadId, JSON.stringify(set), removed, patch.status ?? null, this.now(), patch.ttlMinutes ?? null],
    );
    return rows[0] ? toThread(rows[0]) : null;
  }


  async setMetadataIfAbsent(threadId: string, key: string, value: unknown): Promise<boolean> {
    const { rowCount } = await this.database.query(
      `UPDATE ${this.schema}.agent_threads SET metadata = metadata || jsonb_build_object($2::text, $3::jsonb)
       WHERE thread_id = $1 AND coalesce(metadata -> $2, 'null'::jsonb) = 'null'::jsonb`,
      [threadId, key, JSON.stringify(value)],
    );
    return (rowCount ?? 0) > 0;
  }


  async deleteThread(threadId: string): Promise<boolean> {
    return ((await this.database.query(`DELETE FROM ${this.schema}.agent_threads WHERE thread_id = $1`, [threadId])).rowCount ?? 0) > 0;
  }


  async setThreadValues(threadId: string, values: Record<string, unknown>, options: { onlyIfMissing?: boolean } = {}): Promise<boolean> {
    if (!options.onlyIfMissing) return this.writeValues(threadId, values);
    // A backfill records what was already there: the thread was not updated, its TTL clock runs on.
    const { rowCount } = await this.database.query(`UPDATE ${this.schema}.agent_threads SET state_values = $2 WHERE thread_id = $1 AND state_values IS NULL`, [threadId, JSON.stringify(values)]);
    return (rowCount ?? 0) > 0;
  }


  async threadsWithoutValues(limit: number): Promise<string[]> {
    const { rows } = await this.database.query<{ thread_id: string }>(`SELECT thread_id FROM ${this.schema}.agent_threads WHERE state_values IS NULL LIMIT $1`, [limit]);
    return rows.map((row) => row.thread_id);
  }


  async deleteExpiredThreads(now: Date, limit: number): Promise<string[]> {
    return this.database.transaction(async (client) => {
      // The claim, one statement: it locks the expired threads it picks, skipping those another
      // instance's sweep (or an admission, a state write) holds, so each is claimed once.
      const claimed = await client.query<{ thread_id: string }>(
        `SELECT thread_id FROM ${this.schema}.agent_threads AS threads
         WHERE ttl_minutes IS NOT NULL AND updated_at + make_interval(secs => ttl_minutes * 60) < $1
           AND NOT EXISTS (SELECT 1 FROM ${this.schema}.agent_runs AS runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))
         ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [now, limit],
      );
      if (claimed.rows.length === 0) return [];
      // A new snapshot, taken with the locks held (no run can be admitted meanwhile): a run
      // admitted just before the claim keeps its thread. The runs go with it (ON DELETE CASCADE).
      const { rows } = await client.query<{ thread_id: string }>(
        `DELETE FROM ${this.schema}.agent_threads AS threads WHERE thread_id = ANY($1::text[])
           AND NOT EXISTS (SELECT 1 FROM ${this.schema}.agent_runs AS runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))
         RETURNING thread_id`,
        [claimed.rows.map((row) => row.thread_id)],
      );
      return rows.map((row) => row.thread_id);
    });
  }


  #where(filter: ThreadFilter): WhereClause {
    const where = new WhereClause();
    if (filter.owner !== undefined) where.add((owner) => `owner = ${owner}`, filter.owner);
    where.metadata(filter.metadata);
    if (filter.status) where.add((status) => `status = ${status}`, filter.status);
    if (filter.ids) where.add((ids) => `thread_id = ANY(${ids}::text[])`, filter.ids);
    // jsonb containment, through the GIN index (jsonb_path_ops).
    if (filter.values) where.add((values) => `state_values @> ${values}::jsonb`, JSON.stringify(filter.values));
    const needle = searchNeedle(filter.text);
    if (needle !== undefined) {
      // The checkpointer's text of each message (lowercased as it was written), read by its key
      // for the threads the other filters leave; a plain substring test, so no pattern characters.
      where.add(
        (text) => `(strpos(lower(metadata ->> 'title'), ${text}) > 0
          OR EXISTS (SELECT 1 FROM ${this.schema}.agent_message_text AS texts WHERE texts.thread_id = agent_threads.thread_id AND strpos(texts.text, ${text}) > 0))`,
        needle,
      );
    }
    return where;
  }


  async searchThreads(search: ThreadSearch): Promise<Thread[]> {
    const { sql, parameters } = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    const { rows } = await this.database.query<ThreadRow>(
      `SELECT ${THREAD_COLUMNS} FROM ${this.schema}.agent_threads ${sql} ORDER BY ${SORT_COLUMNS[search.sortBy]} ${direction}, thread_id ${direction}
       LIMIT $${parameters.length + 1} OFFSET $${parameters.length + 2}`,
      [...parameters, search.limit, search.offset],
    );
    return rows.map(toThread);
  }


  async countThreads(filter: ThreadFilter): Promise<number> {
    const { sql, parameters } = this.#where(filter);
    const { rows } = await this.database.query<{ count: string }>(`SELECT count(*) AS count FROM ${this.schema}.agent_threads ${sql}`, parameters);
    return Number(rows[0]?.count ?? 0);
  }

}
