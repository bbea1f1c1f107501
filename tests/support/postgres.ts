/**
 * PostgreSQL for tests: the machine's server (trust auth), a fresh schema per use, dropped after.
 * When no server answers, suites using it are skipped with a loud message, never silently.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

/** Where the test database is; override with TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Whether a PostgreSQL server answers at TEST_DATABASE_URL; says so loudly when not. */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch (error) {
    console.warn(`\n!!! PostgreSQL is not reachable at ${TEST_DATABASE_URL} (${(error as Error).message}): SKIPPING the PostgreSQL suites !!!\n`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A name for a throwaway schema. */
export const schemaName = () => `test_${randomBytes(6).toString("hex")}`;

/** Drops a throwaway schema and everything in it. */
export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}
