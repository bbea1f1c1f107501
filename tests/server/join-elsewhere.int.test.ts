/**
 * Joining, on instance B, a run that instance A executes: B polls the run's record until it
 * ends, and stops as soon as the client that joined leaves.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { type TestServer, startServer } from "../support/server.js";
import { until } from "../support/until.js";

const reachable = await postgresReachable();
const schema = schemaName();
const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
let stub: OpenAiStub;
const servers: TestServer[] = [];

beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(async () => {
  stub.reset();
  for (const server of servers) await server.close({ keepData: true });
  await stub.close();
  if (reachable) await dropSchema(pool, schema);
  await pool.end();
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.skipIf(!reachable)("joining a run held by another instance", () => {
  it("stops polling the run once the client has left", async () => {
    const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema };
    const a = await startServer(stub, { env });
    servers.push(a);
    const b = await startServer(stub, { env, captureLogs: true });
    servers.push(b);

    // B's reads of each run's record, and how many are under way.
    const polls = new Map<string, number>();
    let inFlight = 0;
    const getRun = b.deps.storage.runs.getRun.bind(b.deps.storage.runs);
    b.deps.storage.runs.getRun = async (threadId, runId) => {
      polls.set(runId, (polls.get(runId) ?? 0) + 1);
      inFlight += 1;
      try {
        return await getRun(threadId, runId);
      } finally {
        inFlight -= 1;
      }
    };

    // Two runs on A whose model does not answer until the end: one joined and left, one witness.
    stub.reset();
    stub.holdNextReply();
    stub.holdNextReply();
    const left = await a.client.threads.create();
    const leftRun = await a.client.runs.create(left.thread_id, "agent", { input: user("joined, then left") });
    const witness = await a.client.threads.create();
    const witnessRun = await a.client.runs.create(witness.thread_id, "agent", { input: user("joined until the end") });
    await until(() => stub.requests.length === 2);

    const client = new AbortController();
    const joinPath = `/threads/${left.thread_id}/runs/${leftRun.run_id}/join`;
    const leaving = fetch(`${b.baseUrl}${joinPath}`, { signal: client.signal }).catch(() => undefined);
    await until(() => (polls.get(leftRun.run_id) ?? 0) >= 2);
    client.abort();
    await leaving;
    // B has seen the connection close (its request log says so) and no read is under way.
    await until(() => b.logs.some((line) => line.includes("request aborted") && line.includes(joinPath)) && inFlight === 0);
    const pollsWhenLeft = polls.get(leftRun.run_id);

    // Meanwhile a client that stays polls the same way on B, several times over.
    const joined = b.client.runs.join(witness.thread_id, witnessRun.run_id);
    // Awaited below; should an expectation fail first, its rejection at teardown is no news.
    joined.catch(() => undefined);
    await until(() => (polls.get(witnessRun.run_id) ?? 0) >= 5);
    expect(polls.get(leftRun.run_id)).toBe(pollsWhenLeft);

    stub.reset();
    const values = (await joined) as { messages: Array<{ content: string }> };
    expect(values.messages.at(-1)?.content).toBe("You said: joined until the end");
    await until(async () => (await a.client.runs.get(left.thread_id, leftRun.run_id)).status === "success");
    expect(polls.get(leftRun.run_id)).toBe(pollsWhenLeft);
  });
});
