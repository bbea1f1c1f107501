import type { Thread, ThreadFilter, ThreadRepository, ThreadSearch, ThreadStatus } from "../threads.js";
import { canonicalJson } from "./canonical-json.js";
import { SORT_COLUMNS, SqliteThreadTables, type ThreadRow, jsonPath, toThread } from "./thread-tables.js";

/** Threads in SQLite: their records, search and count; their messages are the checkpointer's. */
export class SqliteThreads extends SqliteThreadTables implements ThreadRepository {
  async createThread(thread: { threadId: string; metadata: Record<string, unknown>; owner?: string }): Promise<Thread | null> {
    const now = this.now();
    const result = this.sql("INSERT OR IGNORE INTO threads (thread_id, owner, metadata, status, created_at, updated_at) VALUES (?, ?, ?, 'idle', ?, ?)")
      .run(thread.threadId, thread.owner ?? null, JSON.stringify(thread.metadata), now, now);
    return result.changes === 0 ? null : this.getThread(thread.threadId);
  }


  async getThread(threadId: string, owner?: string): Promise<Thread | null> {
    const row = (
      owner === undefined
        ? this.sql("SELECT * FROM threads WHERE thread_id = ?").get(threadId)
        : this.sql("SELECT * FROM threads WHERE thread_id = ? AND owner = ?").get(threadId, owner)
    ) as ThreadRow | undefined;
    return row ? toThread(row) : null;
  }


  async updateThread(threadId: string, patch: { metadata?: Record<string, unknown>; status?: ThreadStatus }): Promise<Thread | null> {
    const update = this.database.connection.transaction(() => {
      const row = this.sql("SELECT * FROM threads WHERE thread_id = ?").get(threadId) as ThreadRow | undefined;
      if (!row) return null;
      const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
      for (const [key, value] of Object.entries(patch.metadata ?? {})) {
        if (value === null) delete metadata[key];
        else metadata[key] = value;
      }
      this.sql("UPDATE threads SET metadata = ?, status = ?, updated_at = ? WHERE thread_id = ?")
        .run(JSON.stringify(metadata), patch.status ?? row.status, this.now(), threadId);
      return this.sql("SELECT * FROM threads WHERE thread_id = ?").get(threadId) as ThreadRow;
    });
    const row = update();
    return row ? toThread(row) : null;
  }


  async deleteThread(threadId: string): Promise<boolean> {
    return this.sql("DELETE FROM threads WHERE thread_id = ?").run(threadId).changes > 0;
  }


  #where(filter: ThreadFilter): { sql: string; parameters: unknown[] } {
    const clauses: string[] = [];
    const parameters: unknown[] = [];
    if (filter.owner !== undefined) {
      clauses.push("owner = ?");
      parameters.push(filter.owner);
    }
    for (const [key, value] of Object.entries(filter.metadata ?? {})) {
      // As JSON values, as PostgreSQL's jsonb compares them: json_extract would make true and 1
      // one SQL value, and a string holding JSON text the same as that JSON. `->` keeps the JSON
      // text; canonical texts ignore key order. A missing key matches null, as on PostgreSQL.
      clauses.push("json_canonical(coalesce(metadata -> ?, 'null')) = ?");
      parameters.push(jsonPath(key), canonicalJson(value));
    }
    if (filter.status) {
      clauses.push("status = ?");
      parameters.push(filter.status);
    }
    if (filter.ids) {
      clauses.push(`thread_id IN (${filter.ids.map(() => "?").join(", ") || "NULL"})`);
      parameters.push(...filter.ids);
    }
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "", parameters };
  }


  async searchThreads(search: ThreadSearch): Promise<Thread[]> {
    const { sql, parameters } = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    const rows = this.sql(`SELECT * FROM threads ${sql} ORDER BY ${SORT_COLUMNS[search.sortBy]} ${direction}, thread_id ${direction} LIMIT ? OFFSET ?`)
      .all(...parameters, search.limit, search.offset) as ThreadRow[];
    return rows.map(toThread);
  }


  async countThreads(filter: ThreadFilter): Promise<number> {
    const { sql, parameters } = this.#where(filter);
    return (this.sql(`SELECT count(*) AS count FROM threads ${sql}`).get(...parameters) as { count: number }).count;
  }

}
