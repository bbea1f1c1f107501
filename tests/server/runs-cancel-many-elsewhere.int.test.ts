/**
 * `POST /runs/cancel` on instance B for runs instance A executes: by id and by status, B asks A
 * through PostgreSQL, and A stops them.
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

describe.skipIf(!reachable)("cancelling many runs through another instance", () => {
  it("stops A's runs when B is asked, by id and by status", async () => {
    const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema };
    const a = await startServer(stub, { env });
    servers.push(a);
    const b = await startServer(stub, { env });
    servers.push(b);

    stub.holdNextReply();
    stub.holdNextReply();
    const byId = await a.client.threads.create();
    const first = await a.client.runs.create(byId.thread_id, "agent", { input: user("cancelled by id") });
    const queued = await a.client.runs.create(byId.thread_id, "agent", { input: user("queued behind it"), multitaskStrategy: "enqueue" });
    const byStatus = await a.client.threads.create();
    const second = await a.client.runs.create(byStatus.thread_id, "agent", { input: user("cancelled by status") });
    await until(() => stub.requests.length === 2);

    await b.client.runs.cancelMany({ threadId: byId.thread_id, runIds: [first.run_id, queued.run_id] });
    await until(async () => (await a.client.runs.get(byId.thread_id, first.run_id)).status === "interrupted");
    await until(async () => (await a.client.runs.get(byId.thread_id, queued.run_id)).status === "interrupted");
    expect((await a.client.runs.get(byStatus.thread_id, second.run_id)).status).toBe("running");

    await b.client.runs.cancelMany({ status: "running" });
    await until(async () => (await a.client.runs.get(byStatus.thread_id, second.run_id)).status === "interrupted");
    // The queued run never reached the model.
    expect(stub.requests).toHaveLength(2);
  });
});
