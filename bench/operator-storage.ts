/**
 * Storage at rest as an operator sees it: the real HTTP app on each backend, the test stub as the
 * model, one long thread and many short ones through the API (`runs.wait`), a clean shutdown, and
 * then the bytes the database holds against the bytes of the message texts. SQLite: every file
 * in `DATA_DIR`; PostgreSQL: `pg_total_relation_size` of every table of the schema (heap, TOAST
 * and indexes, dead rows included, as the server keeps them).
 */
import { Client } from "@langchain/langgraph-sdk";
import BetterSqlite3 from "better-sqlite3";
import { once } from "node:events";
import { readdirSync, statSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { pino } from "pino";
import { createAgentFromConfig } from "../src/composition/agent-from-config.js";
import { loadConfig } from "../src/config.js";
import { createApp, createServerDeps } from "../src/server/create-app.js";
import { type OpenAiStub, extractionAnswer, isExtractionRequest, startOpenAiStub } from "../tests/support/openai-stub.js";
import { inParallel, messageTexts } from "./workloads.js";

/** The workload: one thread of 300 turns, then 16 threads of 10 turns each. */
export interface OperatorWorkload {
  longTurns: number;
  threads: number;
  turnsEach: number;
}

/** Bytes of every file under `dir`. */
function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(path) : statSync(path).size;
  }
  return total;
}

/** Where a SQLite file's pages go, per table (its indexes included), largest first. */
function sqliteTables(path: string): Record<string, number> {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT coalesce(s.tbl_name, d.name) AS name, sum(d.pgsize) AS bytes FROM dbstat AS d
         LEFT JOIN sqlite_schema AS s ON s.name = d.name GROUP BY 1 ORDER BY 2 DESC`,
      )
      .all() as Array<{ name: string; bytes: number }>;
    return Object.fromEntries(rows.map((row) => [row.name, row.bytes]));
  } finally {
    db.close();
  }
}

/** Drives the workload through the API; returns the bytes of the message texts (user and assistant). */
async function converse(apiUrl: string, workload: OperatorWorkload, replies: string[]): Promise<{ rawTextBytes: number; seconds: number }> {
  const client = new Client({ apiUrl, callerOptions: { maxRetries: 0, maxConcurrency: 64 } });
  const userText = messageTexts(1);
  let userBytes = 0;
  const turn = async (threadId: string) => {
    const text = userText();
    userBytes += Buffer.byteLength(text);
    await client.runs.wait(threadId, "agent", { input: { messages: [{ role: "user", content: text }] } });
  };
  const started = performance.now();
  const long = await client.threads.create();
  for (let index = 0; index < workload.longTurns; index += 1) await turn(long.thread_id);
  const short = await Promise.all(Array.from({ length: workload.threads }, () => client.threads.create()));
  await inParallel(workload.threads, async (worker) => {
    for (let index = 0; index < workload.turnsEach; index += 1) await turn(short[worker]!.thread_id);
  });
  const seconds = (performance.now() - started) / 1000;
  const expected = workload.longTurns + workload.threads * workload.turnsEach;
  if (replies.length !== expected) throw new Error(`The model answered ${replies.length} times, not ${expected}: some runs failed`);
  return { rawTextBytes: userBytes + replies.reduce((sum, reply) => sum + Buffer.byteLength(reply), 0), seconds };
}

/** The app on `env` with the stub as its model, listening; `stop` shuts it down as SIGTERM does. */
async function serve(env: Record<string, string>, stub: OpenAiStub) {
  const config = loadConfig({ OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: "bench", MODEL_MAX_RETRIES: "0", LOG_LEVEL: "silent", ...env });
  const { agent, storage, documents } = createAgentFromConfig(config);
  const deps = await createServerDeps({ agent, storage, documents, logger: pino({ level: "silent" }) });
  const server: Server = createApp(deps).listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    // What main.ts does on SIGTERM.
    async stop() {
      server.close();
      await deps.crons?.stop();
      await deps.runs.shutdown(config.SHUTDOWN_GRACE_MS);
      server.closeAllConnections();
      await deps.monitor?.stop();
      await deps.sweeper?.stop();
      await deps.storeSweeper?.stop();
      await storage.close();
    },
  };
}

/**
 * A new install started and stopped with nothing written, measured; then the app on `env`, the
 * workload through it, a clean stop.
 */
async function serveAndConverse(emptyEnv: Record<string, string>, env: Record<string, string>, workload: OperatorWorkload, measureEmpty: () => Promise<number> | number) {
  const stub = await startOpenAiStub();
  try {
    await (await serve(emptyEnv, stub)).stop();
    const emptyBytes = await measureEmpty();
    const replyText = messageTexts(2);
    const replies: string[] = [];
    stub.respondWith((request) => {
      // Long-term memory is on, as for an operator: its extraction calls are answered as the
      // test extractor does, and are not replies of the conversation.
      if (isExtractionRequest(request)) return extractionAnswer(request);
      const reply = replyText();
      replies.push(reply);
      return reply;
    });
    const app = await serve(env, stub);
    try {
      return { emptyBytes, ...(await converse(app.apiUrl, workload, replies)) };
    } finally {
      await app.stop();
    }
  } finally {
    await stub.close();
  }
}

const ratio = (bytes: number, raw: number) => Number((bytes / raw).toFixed(2));

/** The workload on SQLite: every byte of the data folder after shutdown. */
export async function operatorSqlite(dir: string, workload: OperatorWorkload) {
  const dataDir = join(dir, "operator-data");
  const emptyDir = join(dir, "operator-empty");
  const { emptyBytes, rawTextBytes, seconds } = await serveAndConverse({ DATA_DIR: emptyDir }, { DATA_DIR: dataDir }, workload, () => folderBytes(emptyDir));
  const bytes = folderBytes(dataDir);
  const files = readdirSync(dataDir);
  return {
    data_folder_bytes: bytes,
    raw_text_bytes: rawTextBytes,
    bytes_per_raw_byte: ratio(bytes, rawTextBytes),
    // The folder of a new install, and what the workload added to it per byte of text.
    empty_install_bytes: emptyBytes,
    growth_per_raw_byte: ratio(bytes - emptyBytes, rawTextBytes),
    files,
    workload_s: Number(seconds.toFixed(1)),
    tables: sqliteTables(join(dataDir, files.find((file) => file.endsWith(".sqlite"))!)),
  };
}

/** The workload on PostgreSQL, in a schema of its own (dropped after): every relation of the schema. */
export async function operatorPostgres(dir: string, databaseUrl: string, workload: OperatorWorkload) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 3000 });
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    await pool.end();
    return { skipped: `PostgreSQL not reachable at ${new URL(databaseUrl).host}: ${(error as Error).message}` };
  }
  const schema = `bench_operator_${Date.now().toString(36)}`;
  const emptySchema = `${schema}_empty`;
  // Tables (with their indexes, TOAST and free-space maps) and sequences: every relation of the schema.
  const relations = async (name: string) =>
    (
      await pool.query<{ name: string; bytes: string }>(
        `SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'm', 'p', 'S') ORDER BY 2 DESC, 1`,
        [name],
      )
    ).rows;
  const total = (rows: Array<{ bytes: string }>) => rows.reduce((sum, row) => sum + Number(row.bytes), 0);
  const on = (name: string) => ({ DATA_DIR: join(dir, "operator-unused"), DATABASE_URL: databaseUrl, DATABASE_SCHEMA: name });
  try {
    const { emptyBytes, rawTextBytes, seconds } = await serveAndConverse(on(emptySchema), on(schema), workload, async () => total(await relations(emptySchema)));
    const rows = await relations(schema);
    const bytes = total(rows);
    return {
      schema_bytes: bytes,
      raw_text_bytes: rawTextBytes,
      bytes_per_raw_byte: ratio(bytes, rawTextBytes),
      // The schema of a new install, and what the workload added to it per byte of text.
      empty_install_bytes: emptyBytes,
      growth_per_raw_byte: ratio(bytes - emptyBytes, rawTextBytes),
      workload_s: Number(seconds.toFixed(1)),
      tables: Object.fromEntries(rows.map((row) => [row.name, Number(row.bytes)])),
    };
  } finally {
    for (const name of [schema, emptySchema]) await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await pool.end();
  }
}

/** Both backends, with the goal beside the ratios. */
export async function operatorStorageBench(dir: string, databaseUrl: string, workload: OperatorWorkload = { longTurns: 300, threads: 16, turnsEach: 10 }) {
  const sqlite = await operatorSqlite(dir, workload);
  const postgres = await operatorPostgres(dir, databaseUrl, workload);
  return {
    workload: { long_thread_turns: workload.longTurns, short_threads: workload.threads, short_thread_turns: workload.turnsEach, message_chars: 560 },
    goal_bytes_per_raw_byte: 3,
    sqlite,
    postgres,
  };
}
