/**
 * The same conversation on PostgreSQL: time per turn and bytes per raw byte of message text
 * (tables with their indexes and TOAST). Skipped, and said so, when no server answers.
 */
import pg from "pg";
import { PostgresCheckpointer } from "../src/storage/postgres/checkpointer.js";
import { around, conversation } from "./in-process.js";
import { conversationTextBytes } from "./workloads.js";
import { PostgresDatabase } from "../src/storage/postgres/database.js";

export async function postgresBench(databaseUrl: string, turns: number) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 3000 });
  const schema = `bench_${Date.now().toString(36)}`;
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    await pool.end();
    return { skipped: `PostgreSQL not reachable at ${new URL(databaseUrl).host}: ${(error as Error).message}` };
  }
  try {
    const saver = new PostgresCheckpointer(new PostgresDatabase(pool, { schema }));
    await saver.setup();
    const perTurn = await conversation(saver, turns);
    const { rows } = await pool.query<{ bytes: string }>(
      `SELECT sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))) AS bytes FROM pg_tables WHERE schemaname = $1`,
      [schema],
    );
    const databaseBytes = Number(rows[0]?.bytes ?? 0);
    const rawTextBytes = conversationTextBytes(turns);
    const marks = [10, 100, 300, 1000].filter((mark) => mark <= turns);
    return {
      per_turn_ms: Object.fromEntries(marks.map((mark) => [`turn_${mark}`, around(perTurn, mark)])),
      storage: { turns, database_bytes: databaseBytes, raw_text_bytes: rawTextBytes, bytes_per_raw_byte: Number((databaseBytes / rawTextBytes).toFixed(2)) },
    };
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  }
}
