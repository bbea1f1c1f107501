/**
 * The LangGraph Store at long-term memory's scale: 10,000 items in one namespace (one user's
 * memories), on SQLite and PostgreSQL. Put latency (one put, one transaction), full-text search
 * latency (what recall costs a turn without embeddings), and semantic search latency with an
 * in-process hashing model (so the figures are storage and search, not a provider).
 */
import { join } from "node:path";
import pg from "pg";
import { PostgresDatabase } from "../src/storage/postgres/database.js";
import { PostgresStore } from "../src/storage/postgres/store.js";
import { SqliteDatabase } from "../src/storage/sqlite/database.js";
import { SqliteStore } from "../src/storage/sqlite/store.js";
import type { DatabaseStore, StoreOptions } from "../src/storage/store.js";
import { HashingEmbeddings } from "./retrieval.js";
import { mean, ms } from "./workloads.js";

/** Searches timed per mode, and results each asks for (a recall's k). */
const QUERIES = 200;
const K = 5;
/** Items written per batch when filling the semantic namespace (its put latency is not the figure). */
const FILL_BATCH = 500;
/** Dimensions of the hashing model: text-embedding-3-small's. */
const DIMENSIONS = 1536;

const SUBJECTS = ["hiking", "jazz", "python", "gardening", "chess", "sushi", "running", "photography", "astronomy", "pottery", "cycling", "baking", "sailing", "poetry", "kotlin", "climbing"];
const VERBS = ["likes", "prefers", "practises", "studies", "avoids", "teaches", "collects", "writes about"];
const PLACES = ["Lisbon", "Osaka", "Denver", "Nairobi", "Oslo", "Lima", "Hanoi", "Quebec"];

/** A deterministic memory-like fact, the `index`th. */
const fact = (index: number) =>
  `The user ${VERBS[index % VERBS.length]} ${SUBJECTS[(index * 7) % SUBJECTS.length]} on weekends in ${PLACES[(index * 3) % PLACES.length]} (note ${index}).`;
/** A recall query: the words of one fact, as a user message would mention them. */
const query = (index: number) => `any tips for ${SUBJECTS[(index * 5) % SUBJECTS.length]} in ${PLACES[(index * 11) % PLACES.length]}?`;

const percentiles = (times: number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
  return { p50: ms(at(0.5)), p95: ms(at(0.95)), mean: ms(mean(times)) };
};

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Fills and times one backend: `open(options)` gives a store on the database under test. */
async function measure(open: (options: StoreOptions) => DatabaseStore, items: number) {
  const plain = open({});
  await plain.setup();
  const puts: number[] = [];
  for (let index = 0; index < items; index += 1) puts.push(await timed(() => plain.put(["memories", "bench-user"], `fact-${index}`, { content: fact(index) })));
  const text: number[] = [];
  let hits = 0;
  for (let index = 0; index < QUERIES; index += 1) {
    text.push(await timed(async () => (hits += (await plain.search(["memories", "bench-user"], { query: query(index), limit: K })).length > 0 ? 1 : 0)));
  }
  const semantic = open({ index: { embeddings: new HashingEmbeddings(DIMENSIONS), dims: DIMENSIONS, fields: ["content"] } });
  for (let start = 0; start < items; start += FILL_BATCH) {
    const batch = Array.from({ length: Math.min(FILL_BATCH, items - start) }, (_, offset) => ({ namespace: ["memories", "semantic-user"], key: `fact-${start + offset}`, value: { content: fact(start + offset) } }));
    await semantic.batch(batch);
  }
  const vector: number[] = [];
  for (let index = 0; index < QUERIES / 4; index += 1) vector.push(await timed(() => semantic.search(["memories", "semantic-user"], { query: query(index), limit: K })));
  return { items, put_ms: percentiles(puts), full_text_search_ms: percentiles(text), full_text_queries_with_results: hits / QUERIES, semantic_search_ms: percentiles(vector) };
}

/**
 * The store section: SQLite in `dir`, and PostgreSQL in a fresh schema on `databaseUrl` (dropped
 * after; skipped, and said so, when no server answers).
 */
export async function storeBench(dir: string, options: { items?: number; databaseUrl?: string } = {}) {
  const items = options.items ?? 10_000;
  const sqlite = new SqliteDatabase(join(dir, "store-bench.sqlite"));
  let sqliteResult: Record<string, unknown>;
  try {
    sqliteResult = await measure((storeOptions) => new SqliteStore(sqlite, storeOptions), items);
  } finally {
    sqlite.close();
  }
  let postgres: Record<string, unknown> = { skipped: "no database URL given" };
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4, connectionTimeoutMillis: 3000 });
    const schema = `bench_store_${Date.now().toString(36)}`;
    try {
      await pool.query("SELECT 1");
      const database = new PostgresDatabase(pool, { schema });
      postgres = await measure((storeOptions) => new PostgresStore(database, storeOptions), items);
    } catch (error) {
      postgres = { skipped: `PostgreSQL at ${new URL(options.databaseUrl).host}: ${(error as Error).message}` };
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await pool.end();
    }
  }
  return { sqlite: sqliteResult, postgres };
}
