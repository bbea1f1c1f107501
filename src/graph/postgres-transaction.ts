import type { Pool, PoolClient } from "pg";

/**
 * Runs `work` in a transaction on one pooled connection: committed when it resolves, rolled back
 * when it throws, the connection released either way. Shared by the PostgreSQL saver and store.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
