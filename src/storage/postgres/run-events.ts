import type { RunEventStore, StoredRunEvent } from "../run-events.js";
import { PostgresThreadTables } from "./thread-tables.js";

/** Run events relayed through PostgreSQL, so an instance can stream a run another one executes. */
export class PostgresRunEvents extends PostgresThreadTables implements RunEventStore {

  async appendRunEvents(runId: string, events: StoredRunEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.database.query(
      `INSERT INTO ${this.schema}.agent_run_events (run_id, seq, event, data)
       SELECT $1, seq, event, data FROM unnest($2::int[], $3::text[], $4::text[]) AS e(seq, event, data) ON CONFLICT DO NOTHING`,
      [runId, events.map((event) => event.seq), events.map((event) => event.event), events.map((event) => event.data)],
    );
  }


  async runEventsAfter(runId: string, afterSeq: number): Promise<StoredRunEvent[]> {
    const { rows } = await this.database.query<StoredRunEvent>(
      `SELECT seq, event, data FROM ${this.schema}.agent_run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq`,
      [runId, afterSeq],
    );
    return rows;
  }


  async pruneRunEvents(olderThanMs: number): Promise<void> {
    await this.database.query(`DELETE FROM ${this.schema}.agent_run_events WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)`, [olderThanMs]);
  }

}
