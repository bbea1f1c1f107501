/**
 * Joining, on instance B, a run that instance A executes: B polls the run's record until it
 * ends, and stops as soon as the client that joined leaves. The events A relayed stay while an
 * instance could serve them, and leave no bytes behind once the last one stops.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { OpenAiStub } from "../support/openai-stub.js";
import { TEST_DATABASE_URL } from "../support/postgres.js";
import { startServer } from "../support/server.js";
import { until } from "../support/until.js";
import { useInstances } from "../support/use-instances.js";

const instances = await useInstances();
const { reachable } = instances;
/** A schema of its own for the test that stops every instance on it. */
const stoppedSchema = instances.newSchema();
let stub: OpenAiStub;
beforeAll(() => {
  stub = instances.stub;
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.skipIf(!reachable)("joining a run held by another instance", () => {
  it("stops polling the run once the client has left", async () => {
    const a = await instances.start();
    const b = await instances.start({ captureLogs: true });

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

  it("keeps relayed events while another instance could serve them, and leaves none behind once the last one stops", async () => {
    stub.reset();
    const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: stoppedSchema };
    const a = await startServer(stub, { env });
    const b = await startServer(stub, { env });
    const thread = await a.client.threads.create();
    const run = await a.client.runs.create(thread.thread_id, "agent", { input: user("relayed to the other instance") });
    await a.client.runs.join(thread.thread_id, run.run_id);
    const relayed = async () => Number((await instances.pool.query(`SELECT count(*) AS count FROM ${stoppedSchema}.agent_run_events WHERE run_id = $1`, [run.run_id])).rows[0].count);
    expect(await relayed()).toBeGreaterThan(0);

    // A stops; B is still there, and can still stream the run A executed, from its first event.
    await a.close({ keepData: true });
    const events: string[] = [];
    for await (const part of b.client.runs.joinStream(thread.thread_id, run.run_id)) events.push(part.event);
    expect(events[0]).toBe("metadata");
    expect(events).toContain("values");

    // B was the last one: no instance can serve a join any more, and the table holds no bytes.
    await b.close({ keepData: true });
    expect(await relayed()).toBe(0);
    const { rows } = await instances.pool.query(`SELECT pg_relation_size('${stoppedSchema}.agent_run_events') AS heap, pg_relation_size(reltoastrelid) AS toast FROM pg_class WHERE oid = '${stoppedSchema}.agent_run_events'::regclass`);
    expect(rows[0]).toEqual({ heap: "0", toast: "0" });
  });
});
