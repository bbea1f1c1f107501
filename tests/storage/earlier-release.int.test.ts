/**
 * Databases written by the previous release open with this one and keep working. The fixtures in
 * tests/fixtures/release-0.1 were made by that release (commit 30e50ab): its SQLite file, and a
 * pg_dump of its PostgreSQL schema, each holding a thread of three turns, a copy of it, a
 * collection with one document and cached model replies. Also here: the PostgreSQL tables of
 * threads and runs carry the service's prefix, so another tool's `schema_migrations` or `threads`
 * in the same schema neither stops setup nor is touched by it.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { until } from "../support/until.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/release-0.1");
const facts = JSON.parse(readFileSync(join(FIXTURES, "facts.json"), "utf8")) as Record<
  "sqlite" | "postgres",
  { threadId: string; copyId: string; collectionId: string; schema?: string }
>;
const reachable = await postgresReachable();
const pool = reachable ? new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 }) : undefined;

/** The release's PostgreSQL schema, loaded under a new name. */
async function loadReleaseSchema(): Promise<string> {
  const schema = schemaName();
  const dump = readFileSync(join(FIXTURES, "postgres.sql"), "utf8").replaceAll("release_fixture", schema);
  await pool!.query(dump);
  return schema;
}

/**
 * Tables, columns, indexes and constraints of a PostgreSQL schema, with its name left out, and
 * without the version tables (bookkeeping, whose shape earlier releases chose table by table).
 */
async function postgresShape(schema: string, except: string[] = []) {
  const versionTables = await pool!.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE '%migrations'", [schema]);
  except = [...except, ...versionTables.rows.map((row) => row.table_name as string)];
  const columns = await pool!.query(
    `SELECT table_name, column_name, data_type, is_nullable, column_default, collation_name, ordinal_position
     FROM information_schema.columns WHERE table_schema = $1 AND NOT (table_name = ANY($2)) ORDER BY table_name, ordinal_position`,
    [schema, except],
  );
  const indexes = await pool!.query(
    `SELECT indexname, replace(indexdef, $1 || '.', '') AS definition FROM pg_indexes WHERE schemaname = $1 AND NOT (tablename = ANY($2)) ORDER BY indexname`,
    [schema, except],
  );
  const constraints = await pool!.query(
    `SELECT conname, contype, conrelid::regclass::text AS relation FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE n.nspname = $1 ORDER BY conname`,
    [schema],
  );
  const strip = (rows: Array<Record<string, unknown>>) => JSON.parse(JSON.stringify(rows).replaceAll(`${schema}.`, ""));
  return { columns: strip(columns.rows), indexes: strip(indexes.rows), constraints: strip(constraints.rows).filter((row: { relation: string }) => !except.includes(row.relation)) };
}

let stub: OpenAiStub;
let server: TestServer | undefined;
const schemas: string[] = [];
const dirs: string[] = [];
beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(async () => {
  await stub.close();
  for (const schema of schemas) await dropSchema(pool!, schema);
  await pool?.end();
  for (const dir of dirs) removeDir(dir);
});

/** A server on the release's database, as an operator who upgraded would start it. */
async function openRelease(backend: "sqlite" | "postgres"): Promise<TestServer> {
  const env = { LLM_CACHE: "database", EMBEDDING_MODEL: "stub-embedding", CHUNK_SIZE: "100", CHUNK_OVERLAP: "10" };
  if (backend === "sqlite") {
    const dataDir = makeTempDir();
    dirs.push(dataDir);
    copyFileSync(join(FIXTURES, "stateful-agent.sqlite"), join(dataDir, "stateful-agent.sqlite"));
    return startServer(stub, { backend, dataDir, env });
  }
  const schema = await loadReleaseSchema();
  schemas.push(schema);
  return startServer(stub, { backend, env: { ...env, DATABASE_SCHEMA: schema } });
}

const contents = (values: unknown) => ((values as { messages?: Array<{ type: string; content: string }> }).messages ?? []).map((message) => `${message.type}: ${message.content}`);

describe.each(await testBackends())("a database of the previous release (%s)", (backend) => {
  const { threadId, copyId, collectionId } = facts[backend];

  it("opens with its threads, copies, history, runs and documents as they were, and takes new turns", async () => {
    server = await openRelease(backend);
    const { client } = server;
    const thread = await client.threads.get(threadId);
    expect(thread.metadata).toMatchObject({ title: "Release fixture" });
    const state = await client.threads.getState(threadId);
    const humans = contents(state.values).filter((line) => line.startsWith("human"));
    expect(humans).toEqual(["human: My name is Ada", "human: I live in Lyon", "human: What is my name?"]);
    expect(contents(state.values)).toHaveLength(6);
    expect(contents((await client.threads.getState(copyId)).values)).toEqual(contents(state.values));
    // The state after each turn is still there, newest first (the release kept one per turn).
    const history = await client.threads.getHistory(threadId, { limit: 100 });
    expect(history.map((entry) => contents(entry.values).length)).toEqual([6, 4, 2]);
    expect(contents(history[2]!.values)[0]).toBe("human: My name is Ada");
    const runs = await client.runs.list(threadId);
    expect(runs.map((run) => run.status)).toEqual(["success", "success", "success"]);
    const found = (await server.request(`/collections/${collectionId}/search`, { body: { query: "when are refunds paid", k: 3 } })).body as {
      results: Array<{ source: string; text: string }>;
    };
    expect(found.results[0]).toMatchObject({ source: "refunds.md", text: expect.stringMatching(/14 days/) });
    // The release kept no values for search: they are recorded in the background at start, and
    // then values filters find its threads, by their messages too.
    const both = [threadId, copyId].sort();
    await until(async () => (await client.threads.search({ ids: both, values: {} })).length === 2);
    const byMessage = await client.threads.search({ ids: both, values: { messages: [{ type: "human", content: "I live in Lyon" }] } });
    expect(byMessage.map((found) => found.thread_id).sort()).toEqual(both);
    expect(await client.threads.search({ ids: both, values: { messages: [{ type: "ai", content: "I live in Lyon" }] } })).toEqual([]);
    // Nor did it keep the text search by text reads: it is indexed in the background at start too.
    const byText = async (query: string) => ((await server!.request("/threads/search", { body: { ids: both, query } })).body as Array<{ thread_id: string }>).map((found) => found.thread_id).sort();
    await until(async () => (await byText("LIVE IN LYON")).length === 2);
    expect(await byText("my name is ada")).toEqual(both);
    expect(await byText("not said in them")).toEqual([]);

    stub.requests.length = 0;
    await client.runs.wait(threadId, "agent", { input: { messages: [{ role: "user", content: "Where do I live?" }] } });
    const sent = stub.requests.at(-1)!.body.messages.map(wireText).join("\n");
    expect(sent).toContain("I live in Lyon");
    expect(sent).toContain("Where do I live?");
    expect(contents((await client.threads.getState(threadId)).values)).toHaveLength(8);
    expect(await client.runs.list(threadId)).toHaveLength(4);
    // A copy still forks on its own.
    await client.runs.wait(copyId, "agent", { input: { messages: [{ role: "user", content: "Only in the copy" }] } });
    expect(contents((await client.threads.getState(copyId)).values).filter((line) => line === "human: Only in the copy")).toHaveLength(1);
    expect(contents((await client.threads.getState(threadId)).values).filter((line) => line === "human: Only in the copy")).toHaveLength(0);
  });

  it("keeps what it wrote after a restart on the new release", async () => {
    server = await openRelease(backend);
    await server.client.runs.wait(threadId, "agent", { input: { messages: [{ role: "user", content: "Remember the tea" }] } });
    const before = contents((await server.client.threads.getState(threadId)).values);
    const { dataDir } = server;
    const schema = backend === "postgres" ? schemas.at(-1) : undefined;
    await server.close({ keepData: true });
    server = await startServer(stub, { backend, dataDir, env: schema ? { DATABASE_SCHEMA: schema } : {} });
    expect(contents((await server.client.threads.getState(threadId)).values)).toEqual(before);
  });
});

describe.skipIf(!reachable)("PostgreSQL tables of threads and runs", () => {
  it("get the service's prefix on an install of the previous release, which then has what a new install has", async () => {
    server = await openRelease("postgres");
    const migrated = schemas.at(-1)!;
    await server.close({ keepData: true });
    server = await startServer(stub, { backend: "postgres", env: { LLM_CACHE: "database" } });
    const fresh = (server.deps.checkpointer as unknown as { schema: string }).schema;
    // The release's own version table stays as it was: it may be shared with another tool.
    const kept = await pool!.query(`SELECT version FROM ${migrated}.schema_migrations ORDER BY version`);
    expect(kept.rows.map((row) => row.version)).toEqual([1, 2, 3, 4]);
    expect(await postgresShape(migrated)).toEqual(await postgresShape(fresh));
    const tables = await pool!.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [fresh]);
    expect(tables.rows.map((row) => row.table_name).filter((name: string) => !/^(agent|rag)_/.test(name))).toEqual([]);
  });

  it("are set up beside another tool's schema_migrations and threads, which stay untouched", async () => {
    const schema = schemaName();
    schemas.push(schema);
    // A migration tool's table with versions past ours, and an application's own `threads`.
    await pool!.query(`CREATE SCHEMA ${schema};
      CREATE TABLE ${schema}.schema_migrations (version BIGINT PRIMARY KEY, dirty BOOLEAN NOT NULL);
      INSERT INTO ${schema}.schema_migrations SELECT v, false FROM generate_series(1, 20) AS v;
      CREATE TABLE ${schema}.threads (id SERIAL PRIMARY KEY, title TEXT NOT NULL);
      INSERT INTO ${schema}.threads (title) VALUES ('not ours');`);
    server = await startServer(stub, { backend: "postgres", env: { DATABASE_SCHEMA: schema } });
    const thread = await server.client.threads.create();
    await server.client.runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "Hello" }] } });
    expect(contents((await server.client.threads.getState(thread.thread_id)).values)).toHaveLength(2);
    expect((await pool!.query(`SELECT title FROM ${schema}.threads`)).rows).toEqual([{ title: "not ours" }]);
    expect((await pool!.query(`SELECT count(*)::int AS count, max(version)::int AS max FROM ${schema}.schema_migrations`)).rows).toEqual([{ count: 20, max: 20 }]);
  });
});
