import type { StoredThreadEvent, ThreadEventStore } from "../thread-events.js";
import { PostgresThreadTables } from "./thread-tables.js";

interface EventRow {
  seq: number;
  run_id: string;
  event: string;
}

const toEvent = (row: EventRow): StoredThreadEvent => ({ seq: row.seq, runId: row.run_id, event: row.event });

/** Protocol events of threads in PostgreSQL (table `agent_thread_events`), read by every instance. */
export class PostgresThreadEvents extends PostgresThreadTables implements ThreadEventStore {

  async appendThreadEvents(threadId: string, events: readonly StoredThreadEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.database.query(
      `INSERT INTO ${this.schema}.agent_thread_events (thread_id, seq, run_id, event)
       SELECT $1, seq, run_id, event FROM unnest($2::int[], $3::text[], $4::text[]) AS e(seq, run_id, event) ON CONFLICT DO NOTHING`,
      [threadId, events.map((event) => event.seq), events.map((event) => event.runId), events.map((event) => event.event)],
    );
  }


  async threadEventsAfter(threadId: string, afterSeq: number, limit: number): Promise<StoredThreadEvent[]> {
    const { rows } = await this.database.query<EventRow>(
      `SELECT seq, run_id, event FROM ${this.schema}.agent_thread_events WHERE thread_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [threadId, afterSeq, limit],
    );
    return rows.map(toEvent);
  }


  async lastThreadSeq(threadId: string): Promise<number> {
    const { rows } = await this.database.query<{ seq: number | null }>(`SELECT max(seq) AS seq FROM ${this.schema}.agent_thread_events WHERE thread_id = $1`, [threadId]);
    return rows[0]?.seq ?? 0;
  }


  async pruneThreadEvents(threadId: string): Promise<void> {
    const table = `${this.schema}.agent_thread_events`;
    await this.database.query(
      `DELETE FROM ${table} WHERE thread_id = $1 AND seq < (
         SELECT min(seq) FROM ${table} WHERE thread_id = $1 AND run_id = (SELECT run_id FROM ${table} WHERE thread_id = $1 ORDER BY seq DESC LIMIT 1))`,
      [threadId],
    );
  }


  async deleteRunEvents(threadId: string, runId: string): Promise<void> {
    const table = `${this.schema}.agent_thread_events`;
    await this.database.query(`DELETE FROM ${table} WHERE thread_id = $1 AND run_id = $2 AND seq < (SELECT max(seq) FROM ${table} WHERE thread_id = $1 AND run_id = $2)`, [threadId, runId]);
  }

}
