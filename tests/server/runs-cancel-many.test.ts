/**
 * `POST /runs/cancel` through the official client (`runs.cancelMany`): many runs at once, by id
 * on a thread or by status, with `interrupt` or `rollback`; 404 for runs or threads the caller
 * cannot see (cancelling nothing), 422 for a request that names no runs; with API keys, only the
 * caller's own runs.
 */
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { until } from "../support/until.js";
import { useStubAndServer } from "../support/use-server.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.each(await testBackends())("on %s", (backend) => {
  const fixture = useStubAndServer(backend);
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;

  beforeAll(() => {
    ({ stub, server } = fixture);
    client = server.client;
  });

  /** A thread with a run the model is holding (running) and one queued behind it (pending). */
  const busyThread = async (label: string) => {
    stub.holdNextReply();
    const thread = await client.threads.create();
    const running = await client.runs.create(thread.thread_id, "agent", { input: user(`${label}: first`) });
    await until(async () => (await client.runs.get(thread.thread_id, running.run_id)).status === "running");
    const pending = await client.runs.create(thread.thread_id, "agent", { input: user(`${label}: second`), multitaskStrategy: "enqueue" });
    return { threadId: thread.thread_id, running: running.run_id, pending: pending.run_id };
  };
  const statusOf = async (threadId: string, runId: string) => (await client.runs.get(threadId, runId)).status;
  const settled = (threadId: string, runId: string, status: string) => until(async () => (await statusOf(threadId, runId)) === status);

  it("cancels a thread's runs by id, running and queued, and the thread is idle again", async () => {
    const { threadId, running, pending } = await busyThread("by id");
    await client.runs.cancelMany({ threadId, runIds: [running, pending] });
    await settled(threadId, running, "interrupted");
    await settled(threadId, pending, "interrupted");
    await until(async () => (await client.threads.get(threadId)).status === "idle");
    // The queued run never reached the model.
    expect(stub.requests.map((request) => request.body.messages.at(-1)?.content)).toEqual(["by id: first"]);
  });

  it("with action rollback, deletes the runs it cancels", async () => {
    const { threadId, running, pending } = await busyThread("rollback");
    await client.runs.cancelMany({ threadId, runIds: [running, pending], action: "rollback" });
    await until(async () => (await client.runs.list(threadId)).length === 0);
    await expect(client.runs.get(threadId, running)).rejects.toMatchObject({ status: 404 });
  });

  it("cancels by status: pending ones only, or all on every thread", async () => {
    const first = await busyThread("status one");
    const second = await busyThread("status two");
    await client.runs.cancelMany({ status: "pending" });
    await settled(first.threadId, first.pending, "interrupted");
    await settled(second.threadId, second.pending, "interrupted");
    expect(await statusOf(first.threadId, first.running)).toBe("running");
    expect(await statusOf(second.threadId, second.running)).toBe("running");

    await client.runs.cancelMany({ status: "all" });
    await settled(first.threadId, first.running, "interrupted");
    await settled(second.threadId, second.running, "interrupted");
  });

  it("cancels by status on one thread when thread_id is given too", async () => {
    const mine = await busyThread("this thread");
    const other = await busyThread("other thread");
    await server.request(`/runs/cancel`, { body: { status: "running", thread_id: mine.threadId } }).then((reply) => expect(reply.status).toBe(204));
    await settled(mine.threadId, mine.running, "interrupted");
    expect(await statusOf(other.threadId, other.running)).toBe("running");
    await client.runs.cancelMany({ status: "all" });
    await settled(other.threadId, other.pending, "interrupted");
  });

  it("answers 204, and cancelling finished runs changes nothing", async () => {
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, "agent", { input: user("done already") });
    await client.runs.join(thread.thread_id, run.run_id);
    const reply = await server.request(`/runs/cancel`, { body: { thread_id: thread.thread_id, run_ids: [run.run_id] } });
    expect(reply).toMatchObject({ status: 204, body: undefined });
    expect(await statusOf(thread.thread_id, run.run_id)).toBe("success");
  });

  it("is a 404 for an unknown thread or run, and then cancels none of the runs named", async () => {
    const { threadId, running, pending } = await busyThread("unknown");
    const unknown = crypto.randomUUID();
    await expect(client.runs.cancelMany({ threadId, runIds: [running, unknown] })).rejects.toMatchObject({ status: 404 });
    await expect(client.runs.cancelMany({ threadId: unknown, runIds: [running] })).rejects.toMatchObject({ status: 404 });
    expect(await statusOf(threadId, running)).toBe("running");
    expect(await statusOf(threadId, pending)).toBe("pending");
    await client.runs.cancelMany({ threadId, runIds: [running, pending] });
    await settled(threadId, pending, "interrupted");
  });

  it.each([
    ["an empty body", {}, "", /status/],
    ["run_ids without thread_id", { run_ids: [crypto.randomUUID()] }, "", /thread_id/],
    ["an unknown status", { status: "sleeping" }, "", /status/],
    ["status with run_ids", { status: "all", thread_id: crypto.randomUUID(), run_ids: [crypto.randomUUID()] }, "", /run_ids/],
    ["a run id that is not a UUID", { thread_id: crypto.randomUUID(), run_ids: ["nope"] }, "", /run_ids\.0/],
    ["an unknown action", { status: "all" }, "?action=explode", /action/],
  ])("is a 422 for %s", async (_what, body, query, detail) => {
    const reply = await server.request(`/runs/cancel${query}`, { body });
    expect(reply.status).toBe(422);
    expect((reply.body as { detail: string }).detail).toMatch(detail);
  });
});

describe("with API keys", () => {
  const ALICE = "alice-key-0123456789abcdef";
  const BOB = "bob-key-fedcba9876543210xyz";
  let stub: OpenAiStub;
  let server: TestServer;
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: { API_KEYS: `alice:${ALICE},bob:${BOB}` } });
    alice = new Client({ apiUrl: server.baseUrl, apiKey: ALICE, callerOptions: { maxRetries: 0 } });
    bob = new Client({ apiUrl: server.baseUrl, apiKey: BOB, callerOptions: { maxRetries: 0 } });
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });

  it("cancels only the caller's own runs, and another owner's are a 404", async () => {
    stub.holdNextReply();
    stub.holdNextReply();
    const hers = await alice.threads.create();
    const herRun = await alice.runs.create(hers.thread_id, "agent", { input: user("alice's") });
    const his = await bob.threads.create();
    const hisRun = await bob.runs.create(his.thread_id, "agent", { input: user("bob's") });
    await until(() => stub.requests.length === 2);

    await expect(bob.runs.cancelMany({ threadId: hers.thread_id, runIds: [herRun.run_id] })).rejects.toMatchObject({ status: 404 });
    await bob.runs.cancelMany({ status: "all" });
    await until(async () => (await bob.runs.get(his.thread_id, hisRun.run_id)).status === "interrupted");
    expect((await alice.runs.get(hers.thread_id, herRun.run_id)).status).toBe("running");

    stub.reset();
    await alice.runs.join(hers.thread_id, herRun.run_id);
    expect((await alice.runs.get(hers.thread_id, herRun.run_id)).status).toBe("success");
  });
});
