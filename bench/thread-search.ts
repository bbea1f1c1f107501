/**
 * Thread search by text (`query` of POST /threads/search and /threads/count) at the size of a
 * busy user's chat list: 1,000 threads of 20 messages (~560 characters each) of one owner, beside
 * 1,000 of another, on SQLite and PostgreSQL. Times the repository's search (one page of 20, in
 * the web page's order) and count for a word in one thread's messages, a word in many, a title,
 * and a text found nowhere (the worst case: every message of the owner's threads is read), and
 * reports what the text index adds at rest per byte of message text.
 */
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import BetterSqlite3 from "better-sqlite3";
import { join } from "node:path";
import pg from "pg";
import { createAgent } from "../src/graph/agent.js";
import { PostgresDatabase } from "../src/storage/postgres/database.js";
import { postgresStorage } from "../src/storage/postgres/storage.js";
import { SqliteDatabase } from "../src/storage/sqlite/database.js";
import { sqliteStorage } from "../src/storage/sqlite/storage.js";
import type { Storage } from "../src/storage/storage.js";
import type { ThreadSearch } from "../src/storage/threads.js";
import { messageTexts } from "./workloads.js";

const THREADS = 1000;
const MESSAGES = 20;
const REPEATS = 30;

/** Milliseconds of each of `REPEATS` calls: p50, p95, mean. */
async function timed(call: () => Promise<unknown>) {
  await call();
  const times: number[] = [];
  for (let index = 0; index < REPEATS; index += 1) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  times.sort((left, right) => left - right);
  const at = (fraction: number) => Number(times[Math.min(times.length - 1, Math.floor(times.length * fraction))]!.toFixed(2));
  return { p50: at(0.5), p95: at(0.95), mean: Number((times.reduce((sum, time) => sum + time, 0) / times.length).toFixed(2)) };
}

/** Writes the threads (one state write of 20 messages each), a few marked; returns the bytes of message text written. */
async function fill(storage: Storage): Promise<number> {
  const agent = createAgent({ model: new FakeListChatModel({ responses: ["unused"] }), checkpointer: storage.checkpointer });
  const next = messageTexts(7);
  let textBytes = 0;
  for (const owner of ["alice", "bob"]) {
    for (let index = 0; index < THREADS; index += 1) {
      const threadId = `${owner}-${String(index).padStart(4, "0")}`;
      // The words searched for: "zebra" in one thread of each owner, "giraffe" in every tenth, a title in one.
      const title = index === 500 ? { title: "Okapi sightings" } : {};
      await storage.threads.createThread({ threadId, metadata: { ...title }, owner });
      const messages = Array.from({ length: MESSAGES }, (_, at) => {
        let text = next();
        if (index === 250 && at === 13) text = `${text.slice(0, 200)} zebra ${text.slice(207)}`;
        if (index % 10 === 0 && at === 7) text = `${text.slice(0, 300)} giraffe ${text.slice(309)}`;
        textBytes += Buffer.byteLength(text);
        return at % 2 === 0 ? new HumanMessage(text) : new AIMessage(text);
      });
      await agent.updateState({ configurable: { thread_id: threadId } }, { messages }, "model");
    }
  }
  return textBytes;
}

/**
 * The alternative with no index: reading every one of the owner's threads' messages from the
 * message log and testing their text in the server. `fresh` is another storage on the database,
 * whose checkpointer has decoded nothing yet (cold); the second pass reads from its cache (warm).
 */
async function messageLogScan(fresh: Storage) {
  const scan = async () => {
    let matched = 0;
    for (let index = 0; index < THREADS; index += 1) {
      const tuple = await fresh.checkpointer.getTuple({ configurable: { thread_id: `alice-${String(index).padStart(4, "0")}`, checkpoint_ns: "" } });
      const messages = (tuple?.checkpoint.channel_values.messages ?? []) as Array<{ text: string }>;
      if (messages.some((message) => message.text.toLowerCase().includes("xylophone"))) matched += 1;
    }
    return matched;
  };
  const time = async () => {
    const started = performance.now();
    await scan();
    return Number((performance.now() - started).toFixed(1));
  };
  return { cold: await time(), warm: await time() };
}

/** The figures of one backend, `textIndexBytes` reading the index's size there, `reopen` giving another storage on it. */
async function measure(storage: Storage, textIndexBytes: () => Promise<number>, reopen: () => Promise<Storage>) {
  const started = performance.now();
  const textBytes = await fill(storage);
  const fillSeconds = Number(((performance.now() - started) / 1000).toFixed(1));
  const page = (text: string): ThreadSearch => ({ owner: "alice", text, limit: 20, offset: 0, sortBy: "updated_at", sortOrder: "desc" });
  const check = async (text: string, expected: number) => {
    const found = await storage.threads.countThreads({ owner: "alice", text });
    if (found !== expected) throw new Error(`search for ${text} found ${found} threads, not ${expected}`);
  };
  await check("zebra", 1);
  await check("giraffe", THREADS / 10);
  await check("okapi", 1);
  await check("xylophone", 0);
  const indexBytes = await textIndexBytes();
  const other = await reopen();
  const scan = await messageLogScan(other).finally(() => other.close());
  return {
    threads: THREADS,
    messages_per_thread: MESSAGES,
    other_owner_threads: THREADS,
    fill_seconds: fillSeconds,
    search_page_ms: {
      word_in_one_thread: await timed(() => storage.threads.searchThreads(page("zebra"))),
      word_in_every_tenth_thread: await timed(() => storage.threads.searchThreads(page("giraffe"))),
      title: await timed(() => storage.threads.searchThreads(page("okapi"))),
      found_nowhere: await timed(() => storage.threads.searchThreads(page("xylophone"))),
      no_query: await timed(() => storage.threads.searchThreads(page(""))),
    },
    count_ms: {
      word_in_every_tenth_thread: await timed(() => storage.threads.countThreads({ owner: "alice", text: "giraffe" })),
      found_nowhere: await timed(() => storage.threads.countThreads({ owner: "alice", text: "xylophone" })),
    },
    text_index: { bytes: indexBytes, message_text_bytes: textBytes, bytes_per_text_byte: Number((indexBytes / textBytes).toFixed(2)) },
    without_index_message_log_scan_ms: scan,
  };
}

export async function threadSearchBench(dir: string, databaseUrl: string) {
  const file = join(dir, "thread-search.sqlite");
  const sqlite = sqliteStorage(new SqliteDatabase(file));
  await sqlite.setup();
  let sqliteFigures;
  try {
    sqliteFigures = await measure(sqlite, async () => {
      const db = new BetterSqlite3(file, { readonly: true });
      try {
        const row = db
          .prepare("SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'agent_message_text')")
          .get() as { bytes: number };
        return row.bytes;
      } finally {
        db.close();
      }
    }, async () => {
      const other = sqliteStorage(new SqliteDatabase(file));
      await other.setup();
      return other;
    });
  } finally {
    await sqlite.close();
  }

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 3000 });
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    await pool.end();
    return { sqlite: sqliteFigures, postgres: { skipped: `PostgreSQL not reachable at ${new URL(databaseUrl).host}: ${(error as Error).message}` } };
  }
  await pool.end();
  const schema = `bench_search_${Date.now().toString(36)}`;
  const postgres = postgresStorage(PostgresDatabase.connect(databaseUrl, { schema, poolSize: 4 }));
  await postgres.setup();
  try {
    const postgresFigures = await measure(postgres, async () => {
      const { rows } = await (postgres.checkpointer as unknown as { database: { query<T>(sql: string, values: unknown[]): Promise<{ rows: T[] }> } }).database.query<{ bytes: string }>(
        "SELECT pg_total_relation_size(format('%I.agent_message_text', $1::text)) AS bytes",
        [schema],
      );
      return Number(rows[0]?.bytes ?? 0);
    }, async () => {
      const other = postgresStorage(PostgresDatabase.connect(databaseUrl, { schema, poolSize: 2 }));
      await other.setup();
      return other;
    });
    return { sqlite: sqliteFigures, postgres: postgresFigures };
  } finally {
    const cleanup = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    await postgres.close();
    await cleanup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await cleanup.end();
  }
}
