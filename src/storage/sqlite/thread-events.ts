import type { StoredThreadEvent, ThreadEventStore } from "../thread-events.js";
import { SqliteThreadTables } from "./thread-tables.js";

interface EventRow {
  seq: number;
  run_id: string;
  event: string;
}

const toEvent = (row: EventRow): StoredThreadEvent => ({ seq: row.seq, runId: row.run_id, event: row.event });

/** Protocol events of threads in SQLite (table `thread_events`, migrated with the threads). */
export class SqliteThreadEvents extends SqliteThreadTables implements ThreadEventStore {

  async appendThreadEvents(threadId: string, events: readonly StoredThreadEvent[]): Promise<void> {
    if (events.length === 0) return;
    const insert = this.sql("INSERT INTO thread_events (thread_id, seq, run_id, event) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    this.database.transaction(() => {
      for (const event of events) insert.run(threadId, event.seq, event.runId, event.event);
    });
  }


  async threadEventsAfter(threadId: string, afterSeq: number, limit: number): Promise<StoredThreadEvent[]> {
    const rows = this.sql("SELECT seq, run_id, event FROM thread_events WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?").all(threadId, afterSeq, limit) as EventRow[];
    return rows.map(toEvent);
  }


  async lastThreadSeq(threadId: string): Promise<number> {
    const row = this.sql("SELECT max(seq) AS seq FROM thread_events WHERE thread_id = ?").get(threadId) as { seq: number | null };
    return row.seq ?? 0;
  }


  async pruneThreadEvents(threadId: string): Promise<void> {
    this.sql(
      `DELETE FROM thread_events WHERE thread_id = @thread AND seq < (
         SELECT min(seq) FROM thread_events WHERE thread_id = @thread AND run_id = (SELECT run_id FROM thread_events WHERE thread_id = @thread ORDER BY seq DESC LIMIT 1))`,
    ).run({ thread: threadId });
  }


  async deleteRunEvents(threadId: string, runId: string): Promise<void> {
    this.sql(
      `DELETE FROM thread_events WHERE thread_id = @thread AND run_id = @run
         AND seq < (SELECT max(seq) FROM thread_events WHERE thread_id = @thread AND run_id = @run)`,
    ).run({ thread: threadId, run: runId });
  }

}
