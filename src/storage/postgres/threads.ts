import type { Thread, ThreadFilter, ThreadRepository, ThreadSearch, ThreadStatus } from "../threads.js";
import { SORT_COLUMNS, type ThreadRow, PostgresThreadTables, toThread } from "./thread-tables.js";

/** Threads on PostgreSQL: their records, search and count; their messages are the checkpointer's. */
export class PostgresThreads extends PostgresThreadTables implements ThreadRepository {

  async createThread(thread: { threadId: string; metadata: Record<string, unknown>; owner?: string }): Promise<Thread | null> {
    const now = this.now();
    const { rows } = await this.database.query<ThreadRow>(
      `INSERT INTO ${this.schema}.agent_threads (thread_id, owner, metadata, status, created_at, updated_at) VALUES ($1, $2, $3, 'idle', $4, $4)
       ON CONFLICT (thread_id) DO NOTHING RETURNING *`,
      [thread.threadId, thread.owner ?? null, JSON.stringify(thread.metadata), now],
    );
    return rows[0] ? toThread(rows[0]) : null;
  }


  async getThread(threadId: string, owner?: string): Promise<Thread | null> {
    const { rows } =
      owner === undefined
        ? await this.database.query<ThreadRow>(`SELECT * FROM ${this.schema}.agent_threads WHERE thread_id = $1`, [threadId])
        : await this.database.query<ThreadRow>(`SELECT * FROM ${this.schema}.agent_threads WHERE thread_id = $1 AND owner = $2`, [threadId, owner]);
    return rows[0] ? toThread(rows[0]) : null;
  }


  async updateThread(threadId: string, patch: { metadata?: Record<string, unknown>; status?: ThreadStatus }): Promise<Thread | null> {
    const entries = Object.entries(patch.metadata ?? {});
    const set = Object.fromEntries(entries.filter(([, value]) => value !== null));
    const removed = entries.filter(([, value]) => value === null).map(([key]) => key);
    // One statement: merge the keys, drop the ones set to null, keep the status unless given.
    const { rows } = await this.database.query<ThreadRow>(
      `UPDATE ${this.schema}.agent_threads SET metadata = (metadata || $2::jsonb) - $3::text[], status = coalesce($4, status), updated_at = $5
       WHERE thread_id = $1 RETURNING *`,
      [threadId, JSON.stringify(set), removed, patch.status ?? null, this.now()],
    );
    return rows[0] ? toThread(rows[0]) : null;
  }


  async deleteThread(threadId: string): Promise<boolean> {
    return ((await this.database.query(`DELETE FROM ${this.schema}.agent_threads WHERE thread_id = $1`, [threadId])).rowCount ?? 0) > 0;
  }


  #where(filter: ThreadFilter): { sql: string; parameters: unknown[] } {
    const clauses: string[] = [];
    const parameters: unknown[] = [];
    const add = (clause: (...placeholders: string[]) => string, ...values: unknown[]) => {
      const placeholders = values.map((value) => {
        parameters.push(value);
        return `$${parameters.length}`;
      });
      clauses.push(clause(...placeholders));
    };
    if (filter.owner !== undefined) add((owner) => `owner = ${owner}`, filter.owner);
    for (const [key, value] of Object.entries(filter.metadata ?? {})) {
      // A missing key matches null, as in the SQLite store.
      add((name, json) => `coalesce(metadata -> ${name}, 'null'::jsonb) = ${json}::jsonb`, key, JSON.stringify(value));
    }
    if (filter.status) add((status) => `status = ${status}`, filter.status);
    if (filter.ids) add((ids) => `thread_id = ANY(${ids}::text[])`, filter.ids);
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "", parameters };
  }


  async searchThreads(search: ThreadSearch): Promise<Thread[]> {
    const { sql, parameters } = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    const { rows } = await this.database.query<ThreadRow>(
      `SELECT * FROM ${this.schema}.agent_threads ${sql} ORDER BY ${SORT_COLUMNS[search.sortBy]} ${direction}, thread_id ${direction}
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
