import type { NewThread, Thread, ThreadFilter, ThreadRepository, ThreadSearch, ThreadStatus } from "../threads.js";
import { searchNeedle } from "../message-text.js";
import { canonicalJson } from "./canonical-json.js";
import { SORT_COLUMNS, SqliteThreadTables, type ThreadRow, jsonPath, toThread } from "./thread-tables.js";

/** Threads in SQLite: their records, search and count; their messages are the checkpointer's. */
export class SqliteThreads extends SqliteThreadTables implements ThreadRepository {
  async createThread(thread: NewThread): Promise<Thread | null> {
    const now = this.now();
    const result = this.sql(
      "INSERT OR IGNORE INTO threads (thread_id, owner, metadata, status, created_at, updated_at, ttl_minutes, state_values) VALUES (?, ?, ?, 'idle', ?, ?, ?, ?)",
    ).run(thread.threadId, thread.owner ?? null, JSON.stringify(thread.metadata), now, now, thread.ttlMinutes ?? null, JSON.stringify(thread.values ?? {}));
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


  async threadExists(threadId: string): Promise<boolean> {
    return this.sql("SELECT 1 FROM threads WHERE thread_id = ?").get(threadId) !== undefined;
  }


  async updateThread(threadId: string, patch: { metadata?: Record<string, unknown>; status?: ThreadStatus; ttlMinutes?: number }): Promise<Thread | null> {
    const row = this.database.transaction(() => {
      const row = this.sql("SELECT * FROM threads WHERE thread_id = ?").get(threadId) as ThreadRow | undefined;
      if (!row) return null;
      const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
      for (const [key, value] of Object.entries(patch.metadata ?? {})) {
        if (value === null) delete metadata[key];
        else metadata[key] = value;
      }
      this.sql("UPDATE threads SET metadata = ?, status = ?, ttl_minutes = ?, updated_at = ? WHERE thread_id = ?")
        .run(JSON.stringify(metadata), patch.status ?? row.status, patch.ttlMinutes ?? row.ttl_minutes, this.now(), threadId);
      return this.sql("SELECT * FROM threads WHERE thread_id = ?").get(threadId) as ThreadRow;
    });
    return row ? toThread(row) : null;
  }


  async setMetadataIfAbsent(threadId: string, key: string, value: unknown): Promise<boolean> {
    const path = jsonPath(key);
    return (
      this.sql("UPDATE threads SET metadata = json_set(metadata, ?, json(?)) WHERE thread_id = ? AND coalesce(json_type(metadata, ?), 'null') = 'null'")
        .run(path, JSON.stringify(value), threadId, path).changes > 0
    );
  }


  async deleteThread(threadId: string): Promise<boolean> {
    return this.sql("DELETE FROM threads WHERE thread_id = ?").run(threadId).changes > 0;
  }


  async setThreadValues(threadId: string, values: Record<string, unknown>, options: { onlyIfMissing?: boolean } = {}): Promise<boolean> {
    if (!options.onlyIfMissing) return this.writeValues(threadId, values);
    // A backfill records what was already there: the thread was not updated, its TTL clock runs on.
    return this.sql("UPDATE threads SET state_values = ? WHERE thread_id = ? AND state_values IS NULL").run(JSON.stringify(values), threadId).changes > 0;
  }


  async threadsWithoutValues(limit: number): Promise<string[]> {
    return (this.sql("SELECT thread_id FROM threads WHERE state_values IS NULL LIMIT ?").all(limit) as Array<{ thread_id: string }>).map((row) => row.thread_id);
  }


  async deleteExpiredThreads(now: Date, limit: number): Promise<string[]> {
    // One statement, so atomic; one server process owns the file, so no other instance races it.
    const rows = this.sql(
      `DELETE FROM threads WHERE thread_id IN (
         SELECT thread_id FROM threads WHERE ttl_minutes IS NOT NULL AND julianday(updated_at) + ttl_minutes / 1440.0 < julianday(?)
           AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = threads.thread_id AND runs.status IN ('pending', 'running'))
         ORDER BY updated_at LIMIT ?)
       RETURNING thread_id`,
    ).all(now.toISOString(), limit) as Array<{ thread_id: string }>;
    return rows.map((row) => row.thread_id);
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
    if (filter.values) {
      // No index: SQLite reads the rows the other filters leave (never a checkpoint).
      clauses.push("json_contains(state_values, ?)");
      parameters.push(JSON.stringify(filter.values));
    }
    const needle = searchNeedle(filter.text);
    if (needle !== undefined) {
      // The checkpointer's text of each message (lowercased as it was written), read by its key
      // for the threads the other filters leave; a plain substring test, so no pattern characters.
      clauses.push(
        `(instr(unicode_lower(metadata ->> '$.title'), ?) > 0
          OR EXISTS (SELECT 1 FROM agent_message_text AS texts WHERE texts.thread_id = threads.thread_id AND instr(texts.text, ?) > 0))`,
      );
      parameters.push(needle, needle);
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
