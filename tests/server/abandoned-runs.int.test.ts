/**
 * Two survivors on one PostgreSQL settle a dead instance's run: exactly one of them undoes it,
 * and a run queued on its thread, which starts once the dead run is settled, keeps its turn even
 * when the other survivor is slow.
 */
import { HumanMessage } from "@langchain/core/messages";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ConfiguredAgent, createAgentFromConfig } from "../../src/composition/agent-from-config.js";
import { type AppDeps, createServerDeps } from "../../src/server/create-app.js";
import { RunCreate } from "../../src/server/schemas.js";
import { makeConfig, makeTempDir, removeDir } from "../support/fixtures.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { until } from "../support/until.js";

const reachable = await postgresReachable();
const schema = schemaName();
const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
let stub: OpenAiStub;
let dataDir: string;
const opened: ConfiguredAgent[] = [];
const started: AppDeps[] = [];

beforeAll(async () => {
  stub = await startOpenAiStub();
  dataDir = makeTempDir();
});
afterAll(async () => {
  for (const deps of started) {
    await deps.crons?.stop();
    await deps.runs.shutdown(0);
    await deps.monitor?.stop();
    await deps.storeSweeper?.stop();
  }
  for (const configured of opened) await configured.checkpointer.close();
  await stub.close();
  if (reachable) await dropSchema(pool, schema);
  await pool.end();
  removeDir(dataDir);
});

/** An agent on the shared schema, with a pool of its own, as each instance has. */
const openAgent = () => {
  const configured = createAgentFromConfig(makeConfig(stub, dataDir, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema }));
  opened.push(configured);
  return configured;
};

/** A surviving instance: its monitor settles abandoned runs as it starts (no further beat in this test). */
const startSurvivor = async (configured: ConfiguredAgent, settled: number[]) => {
  const logger = pino({ level: "warn" }, { write: (line: string) => void settled.push(...[JSON.parse(line) as { msg: string; runs?: number }].filter((entry) => entry.msg.startsWith("settled runs")).map((entry) => entry.runs ?? 0)) });
  const deps = await createServerDeps({ agent: configured.agent, storage: configured.storage, logger, heartbeatMs: 600_000 });
  started.push(deps);
  return deps;
};

const contents = (values: unknown) => ((values as { messages?: Array<{ content: string }> }).messages ?? []).map((message) => message.content);

describe.skipIf(!reachable)("survivors of a dead instance", () => {
  it("settle its run once; a slow survivor does not undo the turn of a run queued behind it", async () => {
    // What the dead instance left: a finished turn, then a run that started and wrote half a turn.
    const dead = openAgent();
    const { threads, runs } = dead.storage;
    await dead.storage.setup();
    const threadId = crypto.randomUUID();
    await threads.createThread({ threadId, metadata: {} });
    const config = { configurable: { thread_id: threadId } };
    await dead.agent.invoke({ messages: [new HumanMessage("My name is Ada")] }, config);
    const head = await dead.checkpointer.headCheckpointId(threadId);
    const deadRunId = crypto.randomUUID();
    await runs.admitRun(
      { runId: deadRunId, threadId, assistantId: "agent", status: "pending", metadata: {}, kwargs: {}, multitaskStrategy: "reject", createdAt: new Date(), instanceId: "dead-instance" },
      { exclusive: true },
    );
    expect(await runs.claimRun(deadRunId, threadId)).toBe(true);
    await runs.setRunStatus(deadRunId, "running", { headCheckpointId: head });
    await threads.updateThread(threadId, { status: "busy" });
    await dead.agent.updateState(config, { messages: [new HumanMessage("This turn dies with its server")] }, "trim");
    expect((await dead.agent.getState(config)).next).not.toEqual([]);

    // The slow survivor stops once it knows the dead run, right before looking at its thread.
    const slow = openAgent();
    const settledBySlow: number[] = [];
    const headCheckpointId = slow.checkpointer.headCheckpointId.bind(slow.checkpointer);
    let reached!: () => void;
    const slowReached = new Promise<void>((resolve) => (reached = resolve));
    let goOn!: () => void;
    const slowGoesOn = new Promise<void>((resolve) => (goOn = resolve));
    vi.spyOn(slow.checkpointer, "headCheckpointId").mockImplementationOnce(async (id: string) => {
      reached();
      await slowGoesOn;
      return headCheckpointId(id);
    });
    const slowStarted = startSurvivor(slow, settledBySlow);
    await slowReached;

    const settledByFast: number[] = [];
    const fast = await startSurvivor(openAgent(), settledByFast);
    // Queued behind the dead run; once it starts, it writes its input and waits for the model.
    stub.reset();
    const answer = stub.holdNextReply();
    const queued = await fast.runs.create(
      threadId,
      RunCreate.parse({ assistant_id: "agent", input: { messages: [{ role: "user", content: "What is my name?" }] }, multitask_strategy: "enqueue", durability: "async" }),
    );
    // The slow survivor goes on once the queued run is half way through its turn, or at once if
    // the slow survivor holds the dead run (the queued run then waits for it).
    await until(async () => stub.requests.length === 1 || (await runs.getRun(threadId, deadRunId))?.status === "running");
    goOn();
    await slowStarted;
    answer();
    await queued.done;

    // The queued run's turn is whole: the slow survivor undid nothing of it.
    expect(contents((await fast.agent.getState(config)).values)).toEqual(["My name is Ada", "Nice to meet you, Ada!", "What is my name?", "Your name is Ada."]);
    expect([...settledBySlow, ...settledByFast]).toEqual([1]);
    expect((await runs.getRun(threadId, deadRunId))?.status).toBe("error");
    expect((await runs.getRun(threadId, queued.run.runId))?.status).toBe("success");
    expect((await threads.getThread(threadId))?.status).toBe("idle");
  });
});
