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


  async clearIfNoInstanceLeft(staleMs: number): Promise<void> {
    const schema = this.schema;
    await this.database.transaction(async (client) => {
      // A stop must not hang behind a long read; the next last instance to stop tries again.
      await client.query("SET LOCAL lock_timeout = '2s'");
      // Taken before looking: an instance that starts meanwhile relays its first event only once
      // this ends, and one that registered before is seen below.
      await client.query(`LOCK TABLE ${schema}.agent_run_events IN ACCESS EXCLUSIVE MODE`);
      const { rows } = await client.query(
        `SELECT 1 FROM ${schema}.agent_instances WHERE heartbeat_at >= now() - make_interval(secs => $1::double precision / 1000) LIMIT 1`,
        [staleMs],
      );
      // TRUNCATE gives the files back at once, where DELETE would leave dead rows for vacuum.
      if (rows.length === 0) await client.query(`TRUNCATE ${schema}.agent_run_events`);
    });
  }

  async pruneRunEvents(olderThanMs: number): Promise<void> {
    await this.database.query(`DELETE FROM ${this.schema}.agent_run_events WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)`, [olderThanMs]);
  }

}
