/**
 * The stores the long-term memory bench measures recall on: the service's SQLite store
 * (full-text), its PostgreSQL store (full-text), and PostgreSQL with local embeddings (hybrid),
 * each on a fresh database; LangGraph's InMemoryStore beside them for comparison.
 */
import { join } from "node:path";
import pg from "pg";
import { PostgresDatabase } from "../src/storage/postgres/database.js";
import { PostgresStore } from "../src/storage/postgres/store.js";
import { SqliteDatabase } from "../src/storage/sqlite/database.js";
import { SqliteStore } from "../src/storage/sqlite/store.js";
import { IN_MEMORY_STORES, type MemoryBenchStore } from "./memory.js";
import { HashingEmbeddings } from "./retrieval.js";

/** 256 dimensions: enough for the hashing model to rank one-sentence memories. */
const DIMENSIONS = 256;

/** A PostgreSQL store in a schema of its own, dropped when closed. */
function postgresStore(name: string, databaseUrl: string, hybrid: boolean): MemoryBenchStore {
  return {
    name,
    async open() {
      const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 3000 });
      const schema = `bench_memory_${name}_${Date.now().toString(36)}`;
      const database = new PostgresDatabase(pool, { schema });
      const store = new PostgresStore(database, hybrid ? { index: { embeddings: new HashingEmbeddings(DIMENSIONS), dims: DIMENSIONS, fields: ["text"] } } : {});
      await store.setup();
      return {
        store,
        async close() {
          await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await pool.end();
        },
      };
    },
  };
}

/** SQLite in `dir`, PostgreSQL at `databaseUrl` when it answers, and the in-memory stand-ins. */
export async function memoryBenchStores(dir: string, databaseUrl: string): Promise<MemoryBenchStore[]> {
  const sqlite: MemoryBenchStore = {
    name: "sqlite",
    async open() {
      const database = new SqliteDatabase(join(dir, `memory-bench-${Date.now().toString(36)}.sqlite`));
      const store = new SqliteStore(database, {});
      await store.setup();
      return { store, close: async () => database.close() };
    },
  };
  const probe = new pg.Pool({ connectionString: databaseUrl, max: 1, connectionTimeoutMillis: 3000 });
  const reachable = await probe.query("SELECT 1").then(() => true, () => false);
  await probe.end();
  const postgres = reachable ? [postgresStore("postgres", databaseUrl, false), postgresStore("postgres_hybrid", databaseUrl, true)] : [];
  return [sqlite, ...postgres, ...IN_MEMORY_STORES];
}
