/**
 * Thread TTL as a client and an operator see it: a thread created or patched with a `ttl`
 * (minutes) is deleted, with its runs and checkpoints, once idle that long; one whose run is still
 * going is not; `THREAD_TTL` gives threads created without one (by POST /threads or by a run) a
 * TTL; and two instances on one PostgreSQL delete each expired thread once, without errors. The
 * TTLs are fractions of a minute and the sweeps frequent (`THREAD_TTL_SWEEP_MS`); tests wait for
 * the deletion with generous bounds.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { until } from "../support/until.js";

/** A TTL of 0.6 seconds, in minutes. */
const SHORT_TTL = 0.01;
/** A TTL of 3 seconds, for threads created with their first state: the creation ends well before it. */
const SEEDED_TTL = 0.05;
const user = (content: string) => ({ messages: [{ role: "user", content }] });
/** A thread's first state, written as it is created: it has a checkpoint without a run. */
const seeded = (content: string) => [{ updates: [{ values: { messages: [{ type: "human", content }] }, asNode: "model" }] }];

/** Whether the thread is gone for the API: 404 on the thread and on its state. */
const gone = async (server: TestServer, threadId: string) =>
  (await server.request(`/threads/${threadId}`)).status === 404 && (await server.request(`/threads/${threadId}/state`)).status === 404;

/** Whether the thread has no checkpoint left (a read that meets their deletion half-way: not yet). */
const noCheckpoints = async (server: TestServer, threadId: string) => {
  try {
    return (await server.deps.checkpointer.getTuple({ configurable: { thread_id: threadId, checkpoint_ns: "" } })) === undefined;
  } catch {
    return false;
  }
};

/** Whether the thread's run and checkpoints are gone from the database too. */
const nothingLeft = async (server: TestServer, threadId: string, runId: string) =>
  (await server.deps.storage.runs.getRun(threadId, runId)) === null && (await noCheckpoints(server, threadId));

describe.each(await testBackends())("thread TTL on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend, env: { THREAD_TTL_SWEEP_MS: "50" } });
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  it("deletes a thread idle past its ttl with its runs and checkpoints; a thread without one stays", async () => {
    const { client } = server;
    // The TTL is set once the run is over: a TTL this short could run out before the run begins.
    const expiring = await client.threads.create();
    const kept = await client.threads.create();
    const run = await client.runs.create(expiring.thread_id, "agent", { input: user("soon forgotten") });
    await client.runs.join(expiring.thread_id, run.run_id);
    await client.runs.wait(kept.thread_id, "agent", { input: user("kept") });
    await client.threads.update(expiring.thread_id, { ttl: SHORT_TTL });
    // The record goes first (no run can start there any more), its checkpoints right after.
    await until(async () => (await gone(server, expiring.thread_id)) && (await nothingLeft(server, expiring.thread_id, run.run_id)));
    // A sweep after the expiry leaves the other thread as it was.
    await server.deps.sweeper!.sweep();
    expect((await client.threads.getState(kept.thread_id)).values).toMatchObject({ messages: [{ content: "kept" }, { content: "You said: kept" }] });
  });

  it("takes a ttl on creation, with its first state, or later with PATCH, as a bare number of minutes too", async () => {
    const { client } = server;
    const created = await client.threads.create({ ttl: { ttl: SEEDED_TTL, strategy: "delete" }, supersteps: seeded("seeded") });
    const patched = await client.threads.create();
    const raw = await server.request("/threads", { body: { ttl: SHORT_TTL } });
    expect(raw.status).toBe(200);
    expect((await server.request(`/threads/${patched.thread_id}`, { method: "PATCH", body: { metadata: {}, ttl: SHORT_TTL } })).status).toBe(200);
    const rawId = (raw.body as { thread_id: string }).thread_id;
    await until(async () => (await gone(server, created.thread_id)) && (await gone(server, patched.thread_id)) && (await gone(server, rawId)));
    await until(() => noCheckpoints(server, created.thread_id));
  });

  it("does not delete a thread while its run is going, however long it takes; the end of the run starts the clock again", async () => {
    const { client } = server;
    const thread = await client.threads.create();
    stub.reset();
    const answer = stub.holdNextReply();
    const run = await client.runs.create(thread.thread_id, "agent", { input: user("a slow question") });
    await until(() => stub.requests.length > 0);
    const busy = await client.threads.update(thread.thread_id, { ttl: SHORT_TTL });
    // Well past its TTL, as seen from its last update (the run's admission), and swept once more.
    const expiredAt = new Date(busy.updated_at).getTime() + SHORT_TTL * 60_000;
    await until(() => Date.now() > expiredAt + 200);
    await server.deps.sweeper!.sweep();
    expect(await server.request(`/threads/${thread.thread_id}`)).toMatchObject({ status: 200, body: { status: "busy" } });
    answer();
    await client.runs.join(thread.thread_id, run.run_id);
    await until(async () => (await gone(server, thread.thread_id)) && (await nothingLeft(server, thread.thread_id, run.run_id)));
  });

  it("refuses a ttl that is not a positive number of minutes, or another strategy (422)", async () => {
    for (const ttl of [0, -5, "soon", { ttl: 5, strategy: "keep_latest" }]) {
      const response = await server.request("/threads", { body: { ttl } });
      expect(response.status).toBe(422);
      expect(response.body).toEqual({ detail: expect.stringMatching(/ttl/) });
    }
  });
});

describe("THREAD_TTL", () => {
  let stub: OpenAiStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: { THREAD_TTL: String(SEEDED_TTL), THREAD_TTL_SWEEP_MS: "50" } });
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  it("applies to threads created without a ttl; a thread's own ttl wins", async () => {
    const { client } = server;
    const defaulted = await client.threads.create({ supersteps: seeded("hello") });
    const own = await client.threads.create({ ttl: 60 });
    await until(() => gone(server, defaulted.thread_id));
    await until(() => noCheckpoints(server, defaulted.thread_id));
    await server.deps.sweeper!.sweep();
    expect((await client.threads.get(own.thread_id)).thread_id).toBe(own.thread_id);
  });

  it("applies to threads a run creates, with the run's record", async () => {
    const { client } = server;
    const threadId = randomUUID();
    const run = await client.runs.create(threadId, "agent", { input: user("hello"), ifNotExists: "create" });
    await client.runs.join(threadId, run.run_id);
    await until(async () => (await gone(server, threadId)) && (await nothingLeft(server, threadId, run.run_id)));
  });
});

const postgres = await postgresReachable();

describe.skipIf(!postgres)("thread TTL with two instances on one PostgreSQL", () => {
  let stub: OpenAiStub;
  const servers: TestServer[] = [];
  const schema = schemaName();
  beforeAll(async () => {
    stub = await startOpenAiStub();
    // One schema for both: each instance sweeps the same threads.
    for (let index = 0; index < 2; index += 1) {
      servers.push(await startServer(stub, { backend: "postgres", captureLogs: true, env: { DATABASE_SCHEMA: schema, THREAD_TTL_SWEEP_MS: "20" } }));
    }
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await stub?.close();
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    await dropSchema(pool, schema);
    await pool.end();
  });

  it("delete each expired thread once, with its runs and checkpoints, and log no error", async () => {
    const [first, second] = servers as [TestServer, TestServer];
    const threads: Array<{ threadId: string; runId: string }> = [];
    for (let index = 0; index < 8; index += 1) {
      const server = index % 2 === 0 ? first : second;
      const thread = await server.client.threads.create();
      const run = await server.client.runs.create(thread.thread_id, "agent", { input: user(`thread ${index}`) });
      await server.client.runs.join(thread.thread_id, run.run_id);
      await server.client.threads.update(thread.thread_id, { ttl: SHORT_TTL });
      threads.push({ threadId: thread.thread_id, runId: run.run_id });
    }
    for (const { threadId, runId } of threads) {
      await until(async () => (await gone(first, threadId)) && (await nothingLeft(second, threadId, runId)));
      expect(await gone(second, threadId)).toBe(true);
    }
    const entries = () => servers.flatMap((server) => server.logs.map((line) => JSON.parse(line) as { level: number; msg: string; threads?: number }));
    const deleted = () => entries().filter((entry) => entry.msg === "deleted threads past their TTL").reduce((sum, entry) => sum + (entry.threads ?? 0), 0);
    // Each instance logs what it deleted once its sweep is over.
    await until(() => deleted() >= threads.length);
    await Promise.all(servers.map((server) => server.deps.sweeper!.sweep()));
    expect(deleted()).toBe(threads.length);
    expect(entries().filter((entry) => entry.level >= 50)).toEqual([]);
  });
});
