/** Schema setup on PostgreSQL is idempotent and safe when several instances start at once. */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresCheckpointer } from "../../src/storage/postgres/checkpointer.js";
import { threadMigrations } from "../../src/storage/postgres/thread-tables.js";
import { PostgresThreads } from "../../src/storage/postgres/threads.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { PostgresDatabase } from "../../src/storage/postgres/database.js";

const reachable = await postgresReachable();
const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 8 });
const schema = schemaName();
afterAll(async () => {
  if (reachable) await dropSchema(pool, schema);
  await pool.end();
});

describe.skipIf(!reachable)("PostgreSQL schema setup", () => {
  it("survives four instances setting up one new schema at the same moment, and a fifth later", async () => {
    // Each instance has a database object of its own (and so its own memo of what it migrated).
    const instance = () => new PostgresDatabase(pool, { schema });
    const setups = Array.from({ length: 4 }, () => [new PostgresCheckpointer(instance()).setup(), new PostgresThreads(instance()).setup()]).flat();
    await expect(Promise.all(setups)).resolves.toBeDefined();
    await new PostgresThreads(instance()).setup();
    await new PostgresCheckpointer(instance()).setup();
    const { rows } = await pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
      [schema],
    );
    expect(rows.map((row) => row.table_name)).toEqual([
      "agent_checkpoint_blobs",
      "agent_checkpoint_migrations",
      "agent_checkpoint_writes",
      "agent_checkpoints",
      "agent_instances",
      "agent_message_counters",
      "agent_message_text",
      "agent_message_text_pending",
      "agent_messages",
      "agent_run_events",
      "agent_runs",
      "agent_thread_events",
      "agent_thread_migrations",
      "agent_threads",
    ]);
    const migrations = await pool.query<{ count: string }>(`SELECT count(*) AS count FROM ${schema}.agent_thread_migrations`);
    // Each version recorded once, however many instances raced to apply it.
    expect(Number(migrations.rows[0]!.count)).toBe(threadMigrations(schema).steps.length);
  });
});
