/**
 * Crons through the official SDK's `CronsClient`: create (stateless and on a thread), search,
 * count, update and delete with the SDK's shapes, each owner seeing only theirs, 422s that create
 * nothing; and the runs they start: messages reaching the model, a thread's cron appending to
 * it, stateless ones deleting or keeping their threads, `end_time` ending them, missed
 * occurrences not replayed; with two instances on one PostgreSQL schema each occurrence runs once.
 */
import { Client, type Cron } from "@langchain/langgraph-sdk";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSISTANT_ID } from "../../src/server/assistants.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import pg from "pg";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { until } from "../support/until.js";

const ALICE = "alice-key-crons-0123456789";
const BOB = "bob-key-crons-0123456789";
/** Polls often, so per-second schedules run about every second even on a busy machine. */
const CRON_POLL_MS = "100";
/** What a cron's wire shape holds, in the SDK's `Cron` fields. */
const CRON_KEYS = ["assistant_id", "created_at", "cron_id", "enabled", "end_time", "metadata", "next_run_date", "on_run_completed", "payload", "schedule", "thread_id", "timezone", "updated_at", "user_id"];

const user = (content: string) => ({ messages: [{ role: "user", content }] });
/** A cron keeps its input as every run request is kept: each message in LangChain's one dict form. */
const kept = (content: string) => ({ messages: [{ type: "human", content }] });
/** How many requests reached the model whose last user message is `text`. */
const requestsSaying = (stub: OpenAiStub, text: string) =>
  stub.requests.filter((request) => {
    const last = request.body.messages.filter((message) => message.role === "user").at(-1);
    return last !== undefined && wireText(last) === text;
  }).length;
/** Long enough for many polls: what has not happened by then is not going to. */
const SEVERAL_POLLS_MS = 1500;

describe.each(await testBackends())("crons on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend, env: { API_KEYS: `alice:${ALICE},bob:${BOB}`, CRON_POLL_MS } });
    const client = (apiKey: string) => new Client({ apiUrl: server.baseUrl, apiKey, callerOptions: { maxRetries: 0, maxConcurrency: 16 } });
    alice = client(ALICE);
    bob = client(BOB);
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  const cronOf = async (client: Client, cronId: string) => (await client.crons.search({ limit: 1000 })).find((cron) => cron.cron_id === cronId);
  const hourIn = (date: string, timeZone: string) =>
    new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(date));

  it("says crons: true in /info", async () => {
    expect((await server.request("/info", { headers: { authorization: `Bearer ${ALICE}` } })).body).toMatchObject({ flags: { crons: true } });
  });

  it("creates, searches, counts, updates and deletes crons with the SDK's shapes", async () => {
    const before = Date.now();
    const stateless = await alice.crons.create("agent", {
      schedule: "0 9 * * *",
      timezone: "Europe/Paris",
      input: user("good morning"),
      metadata: { team: "ops" },
      onRunCompleted: "keep",
    });
    expect(Object.keys(stateless).sort()).toEqual(CRON_KEYS);
    expect(stateless).toMatchObject({
      assistant_id: ASSISTANT_ID,
      thread_id: null,
      on_run_completed: "keep",
      end_time: null,
      schedule: "0 9 * * *",
      timezone: "Europe/Paris",
      user_id: "alice",
      metadata: { team: "ops" },
      enabled: true,
      payload: { assistant_id: "agent", input: kept("good morning"), metadata: { team: "ops" } },
    });
    // 9 o'clock in Paris, within the next day.
    expect(hourIn(stateless.next_run_date!, "Europe/Paris")).toBe("09:00:00");
    expect(Date.parse(stateless.next_run_date!)).toBeGreaterThan(before);
    expect(Date.parse(stateless.next_run_date!)).toBeLessThanOrEqual(before + 25 * 3600_000);

    const thread = await alice.threads.create();
    const onThread = await alice.crons.createForThread(thread.thread_id, "agent", { schedule: "30 6 * * 1", input: user("weekly"), endTime: "2099-01-01T00:00:00Z" });
    expect(onThread).toMatchObject({ thread_id: thread.thread_id, timezone: null, end_time: "2099-01-01T00:00:00.000Z", user_id: "alice" });
    expect(onThread).not.toHaveProperty("on_run_completed");
    // UTC without a time zone: Monday, 06:30.
    expect(new Date(onThread.next_run_date!).getUTCDay()).toBe(1);
    expect(hourIn(onThread.next_run_date!, "UTC")).toBe("06:30:00");

    const ids = (crons: Array<Partial<Cron>>) => crons.map((cron) => cron.cron_id);
    expect(ids(await alice.crons.search({ threadId: thread.thread_id }))).toEqual([onThread.cron_id]);
    expect(ids(await alice.crons.search({ assistantId: "agent", sortBy: "created_at", sortOrder: "asc" }))).toEqual(expect.arrayContaining([stateless.cron_id, onThread.cron_id]));
    expect(ids(await alice.crons.search({ metadata: { team: "ops" } }))).toEqual([stateless.cron_id]);
    expect(await alice.crons.search({ assistantId: "nobody" })).toEqual([]);
    expect(await alice.crons.count({ threadId: thread.thread_id })).toBe(1);
    expect(await alice.crons.count({ metadata: { team: "ops" } })).toBe(1);
    const selected = await alice.crons.search({ threadId: thread.thread_id, select: ["cron_id", "schedule"] });
    expect(selected).toEqual([{ cron_id: onThread.cron_id, schedule: "30 6 * * 1" }]);

    const updated = await alice.crons.update(stateless.cron_id, { schedule: "15 7 * * *", timezone: "Asia/Tokyo", input: user("ohayo"), endTime: "2098-06-01T00:00:00Z" });
    expect(updated).toMatchObject({ schedule: "15 7 * * *", timezone: "Asia/Tokyo", end_time: "2098-06-01T00:00:00.000Z", payload: { input: kept("ohayo"), metadata: { team: "ops" } } });
    expect(hourIn(updated.next_run_date!, "Asia/Tokyo")).toBe("07:15:00");
    expect(Date.parse(updated.updated_at)).toBeGreaterThan(Date.parse(stateless.updated_at));
    expect(updated.created_at).toBe(stateless.created_at);
    const paused = await alice.crons.update(stateless.cron_id, { enabled: false, endTime: null, onRunCompleted: "delete" });
    expect(paused).toMatchObject({ enabled: false, end_time: null, on_run_completed: "delete", schedule: "15 7 * * *" });
    expect(ids(await alice.crons.search({ enabled: false }))).toEqual([stateless.cron_id]);

    await alice.crons.delete(stateless.cron_id);
    expect(await cronOf(alice, stateless.cron_id)).toBeUndefined();
    await expect(alice.crons.delete(stateless.cron_id)).rejects.toMatchObject({ status: 404 });
    await expect(alice.crons.update(stateless.cron_id, { enabled: true })).rejects.toMatchObject({ status: 404 });
    // A thread's crons go with the thread.
    await alice.threads.delete(thread.thread_id);
    expect(await cronOf(alice, onThread.cron_id)).toBeUndefined();
  });

  it("shows each owner only their crons, and no cron on another owner's thread", async () => {
    const alicesThread = await alice.threads.create();
    const cron = await alice.crons.createForThread(alicesThread.thread_id, "agent", { schedule: "0 0 1 1 *", input: user("new year") });
    expect(await bob.crons.search()).toEqual([]);
    expect(await bob.crons.count()).toBe(0);
    await expect(bob.crons.update(cron.cron_id, { enabled: false })).rejects.toMatchObject({ status: 404 });
    await expect(bob.crons.delete(cron.cron_id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.crons.createForThread(alicesThread.thread_id, "agent", { schedule: "0 0 1 1 *", input: user("mine now") })).rejects.toMatchObject({ status: 404 });
    expect(await bob.crons.count()).toBe(0);
    expect((await cronOf(alice, cron.cron_id))?.enabled).toBe(true);
    await alice.crons.delete(cron.cron_id);
  });

  it("refuses a bad schedule, time zone, end time, assistant or thread with a detail naming it, and creates nothing", async () => {
    const count = await alice.crons.count();
    const refusal = async (path: string, body: Record<string, unknown>, method = "POST") => {
      const response = await server.request(path, { method, body, headers: { authorization: `Bearer ${ALICE}` } });
      return { status: response.status, detail: (response.body as { detail?: string }).detail ?? "" };
    };
    const valid = { assistant_id: "agent", schedule: "0 9 * * *", input: user("hi") };
    expect(await refusal("/runs/crons", { ...valid, schedule: "every morning" })).toMatchObject({ status: 422, detail: expect.stringMatching(/schedule.*every morning/) });
    expect(await refusal("/runs/crons", { ...valid, schedule: "61 * * * *" })).toMatchObject({ status: 422, detail: expect.stringMatching(/schedule/) });
    expect(await refusal("/runs/crons", { ...valid, schedule: "0 0 30 2 *" })).toMatchObject({ status: 422, detail: expect.stringMatching(/schedule.*never/) });
    expect(await refusal("/runs/crons", { ...valid, timezone: "Mars/Olympus_Mons" })).toMatchObject({ status: 422, detail: expect.stringMatching(/timezone.*Mars\/Olympus_Mons/) });
    expect(await refusal("/runs/crons", { ...valid, end_time: "next tuesday" })).toMatchObject({ status: 422, detail: expect.stringMatching(/end_time/) });
    expect(await refusal("/runs/crons", { ...valid, schedule: undefined })).toMatchObject({ status: 422, detail: expect.stringMatching(/schedule/) });
    expect(await refusal("/runs/crons", { ...valid, assistant_id: "nobody" })).toMatchObject({ status: 404, detail: expect.stringMatching(/nobody/) });
    expect(await refusal(`/threads/${crypto.randomUUID()}/runs/crons`, valid)).toMatchObject({ status: 404, detail: expect.stringMatching(/Thread/) });
    expect(await alice.crons.count()).toBe(count);

    const cron = await alice.crons.create("agent", { schedule: "0 9 * * *", input: user("hi") });
    expect(await refusal(`/runs/crons/${cron.cron_id}`, { schedule: "0 25 * * *" }, "PATCH")).toMatchObject({ status: 422, detail: expect.stringMatching(/schedule/) });
    expect(await refusal(`/runs/crons/${cron.cron_id}`, { timezone: "Nowhere/Land" }, "PATCH")).toMatchObject({ status: 422, detail: expect.stringMatching(/timezone/) });
    expect(await cronOf(alice, cron.cron_id)).toEqual(cron);
    await alice.crons.delete(cron.cron_id);
  });

  it("runs a thread's cron on its thread every second: each run's message reaches the model and is appended", async () => {
    const thread = await alice.threads.create();
    const cron = await alice.crons.createForThread(thread.thread_id, "agent", { schedule: "*/1 * * * * *", input: user("tick"), multitaskStrategy: "enqueue" });
    await until(async () => (await alice.runs.list(thread.thread_id)).filter((run) => run.status === "success").length >= 2);
    await alice.crons.delete(cron.cron_id);
    // A run whose occurrence was claimed just before the delete may still be starting.
    await sleep(SEVERAL_POLLS_MS);
    await until(async () => (await alice.runs.list(thread.thread_id, { limit: 100 })).every((run) => run.status === "success"));
    const runs = await alice.runs.list(thread.thread_id, { limit: 100 });
    const messages = ((await alice.threads.getState<{ messages: Array<{ type: string; content: string }> }>(thread.thread_id)).values.messages ?? []).map((message) => [message.type, message.content]);
    expect(messages).toEqual(runs.flatMap(() => [["human", "tick"], ["ai", "You said: tick"]]));
    expect(requestsSaying(stub, "tick")).toBe(runs.length);
    // The model saw the thread grow: each request had the previous turns in it.
    const seen = stub.requests.filter((request) => request.body.messages.some((message) => wireText(message) === "tick")).map((request) => request.body.messages.filter((message) => message.role === "user").length);
    expect(seen).toEqual(runs.map((_, index) => index + 1));
    // Deleted: no more runs.
    await sleep(SEVERAL_POLLS_MS);
    expect(await alice.runs.list(thread.thread_id, { limit: 100 })).toHaveLength(runs.length);
  });

  it("runs stateless crons each on a new thread, deleted after the run by default, kept with on_run_completed keep", async () => {
    const threadsBefore = await alice.threads.count();
    const dropped = await alice.crons.create("agent", { schedule: "*/1 * * * * *", input: user("dropped") });
    const kept = await alice.crons.create("agent", { schedule: "*/1 * * * * *", input: user("kept"), onRunCompleted: "keep" });
    await until(() => requestsSaying(stub, "dropped") >= 1 && requestsSaying(stub, "kept") >= 1);
    await alice.crons.delete(dropped.cron_id);
    await alice.crons.delete(kept.cron_id);
    await sleep(SEVERAL_POLLS_MS);
    const keptRuns = requestsSaying(stub, "kept");
    // The kept threads remain, each with one turn; the others are gone once their runs end.
    await until(async () => (await alice.threads.count()) - threadsBefore >= keptRuns);
    await until(async () => {
      const threads = await alice.threads.search({ limit: 1000, select: ["thread_id", "values", "status"] });
      const mine = threads.filter((thread) => JSON.stringify(thread.values).includes('"dropped"') || JSON.stringify(thread.values).includes('"kept"'));
      return mine.every((thread) => thread.status === "idle" && JSON.stringify(thread.values).includes('"kept"')) && mine.length === requestsSaying(stub, "kept");
    });
    const threads = (await alice.threads.search({ limit: 1000 })).filter((thread) => JSON.stringify(thread.values).includes('"kept"'));
    expect(threads.length).toBeGreaterThanOrEqual(1);
    for (const thread of threads) {
      const messages = (thread.values as { messages: Array<{ type: string; content: string }> }).messages.map((message) => [message.type, message.content]);
      expect(messages).toEqual([["human", "kept"], ["ai", "You said: kept"]]);
    }
    expect(await alice.threads.count()).toBe(threadsBefore + threads.length);
  });

  it("starts no run after end_time", async () => {
    const endTime = new Date(Date.now() + 3000).toISOString();
    const thread = await alice.threads.create();
    const cron = await alice.crons.createForThread(thread.thread_id, "agent", { schedule: "*/1 * * * * *", input: user("until the end"), multitaskStrategy: "enqueue", endTime });
    // Its last occurrence claimed, the cron has no next run.
    await until(async () => (await cronOf(alice, cron.cron_id))?.next_run_date === null);
    // The run of the last occurrence may still be starting.
    await sleep(SEVERAL_POLLS_MS);
    await until(async () => (await alice.runs.list(thread.thread_id, { limit: 100 })).every((run) => run.status === "success"));
    const runs = await alice.runs.list(thread.thread_id, { limit: 100 });
    expect(runs.length).toBeGreaterThanOrEqual(1);
    await sleep(SEVERAL_POLLS_MS);
    expect(await alice.runs.list(thread.thread_id, { limit: 100 })).toHaveLength(runs.length);
    expect(requestsSaying(stub, "until the end")).toBe(runs.length);
  });

  it("after downtime runs a missed cron once, not once per missed occurrence, then waits for its next time", async () => {
    const thread = await alice.threads.create();
    const cron = await alice.crons.createForThread(thread.thread_id, "agent", { schedule: "0 * * * *", input: user("hourly"), multitaskStrategy: "enqueue" });
    // As if every instance had been down for five hours: five occurrences were missed.
    await server.deps.storage.crons.updateCron(cron.cron_id, { nextRunDate: new Date(Date.now() - 5 * 3600_000 - 60_000) });
    await until(async () => (await alice.runs.list(thread.thread_id)).some((run) => run.status === "success"));
    const after = await cronOf(alice, cron.cron_id);
    expect(Date.parse(after!.next_run_date!)).toBeGreaterThan(Date.now());
    expect(new Date(after!.next_run_date!).getUTCMinutes()).toBe(0);
    await sleep(SEVERAL_POLLS_MS);
    expect(await alice.runs.list(thread.thread_id)).toHaveLength(1);
    expect(requestsSaying(stub, "hourly")).toBe(1);
    await alice.crons.delete(cron.cron_id);
  });
});

describe.skipIf(!(await postgresReachable()))("crons on two instances sharing one PostgreSQL schema", () => {
  const schema = schemaName();
  let stub: OpenAiStub;
  let servers: TestServer[] = [];

  beforeAll(async () => {
    stub = await startOpenAiStub();
    const start = () => startServer(stub, { backend: "postgres", env: { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, CRON_POLL_MS: "20" } });
    servers = [await start(), await start()];
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await stub?.close();
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    await dropSchema(pool, schema);
    await pool.end();
  });

  it("starts each occurrence once, whichever instance claims it", async () => {
    const [first, second] = servers as [TestServer, TestServer];
    // One occurrence each, all at the same second a few seconds from now (7 fields: with the year).
    const at = new Date(Math.ceil((Date.now() + 5000) / 1000) * 1000);
    const once = `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} ${at.getUTCDate()} ${at.getUTCMonth() + 1} * ${at.getUTCFullYear()}`;
    const markers = Array.from({ length: 6 }, (_, index) => `occurrence ${index}`);
    const crons = await Promise.all(
      markers.map((marker, index) => (index % 2 ? first : second).client.crons.create("agent", { schedule: once, input: user(marker), onRunCompleted: "keep" })),
    );
    for (const cron of crons) expect(cron.next_run_date).toBe(at.toISOString());
    // Both instances see every cron.
    expect(await second.client.crons.count()).toBe(markers.length);
    await until(() => markers.every((marker) => requestsSaying(stub, marker) >= 1));
    await until(async () => (await first.client.crons.search({ limit: 100 })).every((cron) => cron.next_run_date === null));
    await sleep(SEVERAL_POLLS_MS);
    for (const marker of markers) expect(requestsSaying(stub, marker)).toBe(1);
    expect(await first.client.threads.count()).toBe(markers.length);
  });
});
