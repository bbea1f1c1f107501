/**
 * Two server processes on one PostgreSQL: a survivor settles the runs of an instance that was
 * killed (undone, marked error, thread freed), and leaves a live instance's runs alone.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makeEnv, makeTempDir, removeDir } from "../support/fixtures.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { startServerProcess } from "../support/server-process.js";
import { PROCESS_TEST_TIMEOUTS, killStartedProcesses } from "../support/spawn.js";
import { until } from "../support/until.js";

vi.setConfig(PROCESS_TEST_TIMEOUTS);

const reachable = await postgresReachable();
const schema = schemaName();
const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
let stub: OpenAiStub;
let dataDir: string;
/**
 * Heartbeats far enough apart that a busy machine does not make a live instance look dead (it is
 * presumed dead after three missed beats).
 */
const HEARTBEAT_MS = 1000;

beforeAll(async () => {
  stub = await startOpenAiStub();
  dataDir = makeTempDir();
});
afterAll(async () => {
  await killStartedProcesses();
  await stub.close();
  if (reachable) await dropSchema(pool, schema);
  await pool.end();
  removeDir(dataDir);
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });
const contents = (values: unknown) => ((values as { messages?: Array<{ content: string }> }).messages ?? []).map((message) => message.content);
const env = () => makeEnv(stub, dataDir, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, INSTANCE_HEARTBEAT_MS: String(HEARTBEAT_MS) });

describe.skipIf(!reachable)("several instances on one PostgreSQL", () => {
  it("holds one run per thread across instances: reject lets one win, enqueue keeps every message in order", async () => {
    const first = await startServerProcess(env(), dataDir);
    const second = await startServerProcess(env(), dataDir);
    const clients = [first.client, second.client];
    stub.reset();

    const contested = await first.client.threads.create();
    // The winner's model answers only once every racer has had its answer: no race with the clock.
    const release = stub.holdNextReply();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) =>
        clients[index % 2]!.runs.create(contested.thread_id, "agent", { input: user(`racer ${index}`), multitaskStrategy: "reject" }),
      ),
    );
    release();
    const won = outcomes.filter((outcome) => outcome.status === "fulfilled");
    const lost = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost.map((outcome) => (outcome.reason as { status?: number }).status)).toEqual(Array(9).fill(409));
    const winner = (won[0] as PromiseFulfilledResult<{ run_id: string }>).value;
    await until(async () => (await second.client.runs.get(contested.thread_id, winner.run_id)).status === "success");
    expect(contents((await second.client.threads.getState(contested.thread_id)).values)).toHaveLength(2);

    stub.reset();
    stub.delayEveryReply(20);
    const queued = await first.client.threads.create();
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        clients[index % 2]!.runs.create(queued.thread_id, "agent", { input: user(`message ${index}`), multitaskStrategy: "enqueue" }),
      ),
    );
    await Promise.all(runs.map((run, index) => clients[index % 2]!.runs.join(queued.thread_id, run.run_id)));
    const messages = contents((await first.client.threads.getState(queued.thread_id)).values);
    expect(messages).toHaveLength(20);
    for (let index = 0; index < 20; index += 2) expect(messages[index + 1]).toBe(`You said: ${messages[index]}`);
    expect(new Set(messages.filter((_, index) => index % 2 === 0)).size).toBe(10);
    // Never two at once: the model saw each request with the previous answers already in it.
    for (const [index, { body }] of stub.requests.entries()) expect(body.messages.filter((message) => message.role === "user")).toHaveLength(index + 1);

    // Joined, streamed and cancelled from the instance that did not start it.
    stub.reset();
    stub.delayEveryReply(600);
    stub.respondWith(() => "streamed across instances token by token");
    const joined = await first.client.runs.create(queued.thread_id, "agent", { input: user("join me elsewhere"), streamMode: ["values", "messages-tuple"] });
    const streamed: Array<{ event: string; data: unknown; id?: string }> = [];
    for await (const part of second.client.runs.joinStream(queued.thread_id, joined.run_id)) streamed.push(part);
    expect(streamed[0]?.event).toBe("metadata");
    const tokens = streamed.filter((part) => part.event === "messages").map((part) => (part.data as [{ content: string }])[0].content);
    expect(tokens.filter(Boolean).length).toBeGreaterThan(2);
    expect(tokens.join("")).toBe("streamed across instances token by token");
    expect(streamed.map((part) => part.id)).toEqual(streamed.map((_, index) => String(index)));
    // Resuming after an event id on the other instance skips what was already seen.
    const resumed: string[] = [];
    for await (const part of second.client.runs.joinStream(queued.thread_id, joined.run_id, { lastEventId: "2" })) resumed.push(part.id!);
    expect(resumed).toEqual(streamed.slice(3).map((part) => part.id));
    stub.reset();
    expect(contents(await second.client.runs.join(queued.thread_id, joined.run_id)).at(-1)).toBe("streamed across instances token by token");
    stub.holdNextReply();
    const stopped = await first.client.runs.create(queued.thread_id, "agent", { input: user("stop me elsewhere") });
    await until(() => stub.requests.length === 1);
    await second.client.runs.cancel(queued.thread_id, stopped.run_id, true);
    expect((await second.client.runs.get(queued.thread_id, stopped.run_id)).status).toBe("interrupted");
    expect(contents((await second.client.threads.getState(queued.thread_id)).values).slice(-2)).toEqual(["streamed across instances token by token", "stop me elsewhere"]);

    // interrupt from the other instance stops the running run there, then runs.
    stub.reset();
    // Held until the end: only the run that takes over gets an answer.
    stub.holdNextReply();
    const slow = await first.client.runs.create(queued.thread_id, "agent", { input: user("interrupted elsewhere") });
    await until(() => stub.requests.length === 1);
    const values = await second.client.runs.wait(queued.thread_id, "agent", { input: user("takes over"), multitaskStrategy: "interrupt" });
    expect(contents(values).slice(-3)).toEqual(["interrupted elsewhere", "takes over", "You said: takes over"]);
    expect((await second.client.runs.get(queued.thread_id, slow.run_id)).status).toBe("interrupted");

    // While A runs the thread, B refuses state writes; deleting it on B leaves no rows behind.
    stub.reset();
    const answer = stub.holdNextReply();
    const doomed = await first.client.runs.create(queued.thread_id, "agent", { input: user("deleted elsewhere") });
    await until(() => stub.requests.length === 1);
    await expect(second.client.threads.updateState(queued.thread_id, { values: { messages: [{ type: "human", content: "x" }] } })).rejects.toMatchObject({ status: 409 });
    await second.client.threads.delete(queued.thread_id);
    // The run on A goes on to its end (the model answers now), and whatever it wrote after the
    // delete must be gone by then.
    answer();
    await first.waitForLog((line) => line.msg === "run finished" && line.runId === doomed.run_id);
    for (const table of ["agent_checkpoints", "agent_messages", "agent_runs", "agent_threads"]) {
      const { rows } = await pool.query<{ count: string }>(`SELECT count(*) AS count FROM ${schema}.${table} WHERE thread_id = $1`, [queued.thread_id]);
      expect([table, Number(rows[0]!.count)]).toEqual([table, 0]);
    }

    first.child.kill("SIGTERM");
    second.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(await second.exited).toBe(0);
  });

  it("lets a survivor settle the runs of a killed instance, and only those", async () => {
    stub.reset();
    const first = await startServerProcess(env(), dataDir);
    const second = await startServerProcess(env(), dataDir);

    const thread = await first.client.threads.create();
    await first.client.runs.wait(thread.thread_id, "agent", { input: user("My name is Ada") });
    stub.reset();
    stub.holdNextReply();
    const run = await first.client.runs.create(thread.thread_id, "agent", { input: user("This turn dies with its server"), durability: "async" });
    await until(() => stub.requests.length === 1);

    // Several heartbeats later, the second instance still leaves the first one's live run alone:
    // wait (on the database's clock) until both have beaten past the time after which a silent
    // instance counts as dead, and once more, so that the check that follows that beat is done.
    const now = (await pool.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
    await until(async () => {
      const { rows } = await pool.query<{ passed: boolean }>(`SELECT min(heartbeat_at) > $1::timestamptz + make_interval(secs => $2) AS passed FROM ${schema}.agent_instances`, [now, (4 * HEARTBEAT_MS) / 1000]);
      return rows[0]?.passed === true;
    });
    expect((await second.client.runs.get(thread.thread_id, run.run_id)).status).toBe("running");

    first.child.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    await until(async () => (await second.client.runs.get(thread.thread_id, run.run_id)).status === "error");
    expect((await second.client.threads.get(thread.thread_id)).status).toBe("idle");
    expect(contents((await second.client.threads.getState(thread.thread_id)).values)).toEqual(["My name is Ada", "Nice to meet you, Ada!"]);

    stub.reset();
    const answer = await second.client.runs.wait(thread.thread_id, "agent", { input: user("What is my name?") });
    expect(contents(answer).at(-1)).toBe("Your name is Ada.");
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  });
});
