/**
 * Joining a thread's stream through the official client (`threads.joinStream`): the run active on
 * the thread from its first event, then each run after it, with a `run_done` after each; the
 * `lifecycle` mode; resuming with `Last-Event-ID`; 404 and 422 before any stream; and the server
 * stops looking at the thread once the client has left.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { until } from "../support/until.js";

type Part = { id?: string; event: string; data: unknown };
type ThreadStreamMode = "run_modes" | "lifecycle" | "state_update";
const user = (content: string) => ({ messages: [{ role: "user", content }] });
const isRunDone = (part: Part) => part.event === "metadata" && (part.data as { status?: string }).status === "run_done";
/** The last message's text of a `values` event. */
const lastText = (part: Part) => (part.data as { messages?: Array<{ content: unknown }> }).messages?.at(-1)?.content;

describe.each(await testBackends())("on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;
  /** How often the server listed each thread's runs: the stream's look for a next run. */
  const looks = new Map<string, number>();
  let looksUnderWay = 0;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend, captureLogs: true });
    client = server.client;
    const listRuns = server.deps.storage.runs.listRuns.bind(server.deps.storage.runs);
    server.deps.storage.runs.listRuns = async (threadId, options) => {
      looks.set(threadId, (looks.get(threadId) ?? 0) + 1);
      looksUnderWay += 1;
      try {
        return await listRuns(threadId, options);
      } finally {
        looksUnderWay -= 1;
      }
    };
  });
  afterAll(async () => {
    stub.reset();
    await server.close();
    await stub.close();
  });
  beforeEach(() => stub.reset());

  /**
   * Follows the thread's stream until `enough` says so; resolves with what it got. `joined`
   * resolves once the server has looked at the thread twice: the stream is past its start.
   */
  const follow = (threadId: string, enough: (parts: Part[]) => boolean, options: { lastEventId?: string; streamMode?: ThreadStreamMode | ThreadStreamMode[] } = {}) => {
    const before = looks.get(threadId) ?? 0;
    const parts: Part[] = [];
    // Leaving the loop does not close the SDK's connection; its signal does.
    const controller = new AbortController();
    const done = (async () => {
      try {
        for await (const part of client.threads.joinStream(threadId, { ...options, signal: controller.signal })) {
          parts.push(part as Part);
          if (enough(parts)) break;
        }
      } finally {
        controller.abort();
      }
      return parts;
    })();
    done.catch(() => undefined);
    return { parts: done, joined: until(() => (looks.get(threadId) ?? 0) >= before + 2) };
  };
  const runsDone = (count: number) => (parts: Part[]) => parts.filter(isRunDone).length >= count;

  it("streams the active run from its first event, then the next runs, each ended by run_done", async () => {
    const thread = await client.threads.create();
    const release = stub.holdNextReply();
    const first = await client.runs.create(thread.thread_id, "agent", { input: user("first turn") });
    await until(() => stub.requests.length === 1);
    const stream = follow(thread.thread_id, runsDone(2));
    await stream.joined;
    const second = await client.runs.create(thread.thread_id, "agent", { input: user("second turn"), multitaskStrategy: "enqueue" });
    release();
    const parts = await stream.parts;

    const ends = parts.flatMap((part, index) => (isRunDone(part) ? [index] : []));
    const [firstRun, secondRun] = [parts.slice(0, (ends[0] ?? 0) + 1), parts.slice((ends[0] ?? 0) + 1)];
    expect(firstRun[0]).toMatchObject({ event: "metadata", data: { run_id: first.run_id, thread_id: thread.thread_id } });
    expect(firstRun.filter((part) => part.event === "values").map(lastText).at(-1)).toBe("You said: first turn");
    expect(firstRun.at(-1)).toMatchObject({ event: "metadata", data: { status: "run_done", run_id: first.run_id }, id: `${first.run_id}:done` });
    expect(secondRun[0]).toMatchObject({ event: "metadata", data: { run_id: second.run_id } });
    expect(secondRun.filter((part) => part.event === "values").map(lastText).at(-1)).toBe("You said: second turn");
    expect(secondRun.at(-1)).toMatchObject({ data: { status: "run_done", run_id: second.run_id } });
    // Every event has an id to resume from.
    expect(parts.every((part) => typeof part.id === "string" && part.id.length > 0)).toBe(true);
  });

  it("waits on an idle thread for its next run, and a run that ended before joining is not replayed", async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "agent", { input: user("before joining") });
    const stream = follow(thread.thread_id, runsDone(1));
    await stream.joined;
    const run = await client.runs.create(thread.thread_id, "agent", { input: user("after joining") });
    const parts = await stream.parts;
    expect(parts[0]).toMatchObject({ event: "metadata", data: { run_id: run.run_id } });
    expect(parts.filter((part) => part.event === "values").map(lastText)).not.toContain("You said: before joining");
    expect(parts.filter((part) => part.event === "values").map(lastText).at(-1)).toBe("You said: after joining");
  });

  it("in lifecycle mode sends only each run's start and end", async () => {
    const thread = await client.threads.create();
    const stream = follow(thread.thread_id, runsDone(1), { streamMode: "lifecycle" });
    await stream.joined;
    const run = await client.runs.create(thread.thread_id, "agent", { input: user("lifecycle") });
    const parts = await stream.parts;
    expect(parts.map((part) => [part.event, (part.data as { run_id?: string }).run_id])).toEqual([
      ["metadata", run.run_id],
      ["metadata", run.run_id],
    ]);
    expect(parts.at(-1)?.data).toEqual({ status: "run_done", run_id: run.run_id });
  });

  it("in state_update mode tells of clients' state writes, and of nothing else", async () => {
    const thread = await client.threads.create();
    const updates = (parts: Part[]) => parts.filter((part) => part.event === "state_update").length;
    const stream = follow(thread.thread_id, (parts) => updates(parts) >= 2, { streamMode: "state_update" });
    await stream.joined;
    // The server answers {checkpoint}, as the official one does (the SDK's type says otherwise).
    const written = (await client.threads.updateState(thread.thread_id, { values: { messages: [["user", "written by hand"]] } })) as unknown as { checkpoint: { checkpoint_id: string } };
    await client.runs.wait(thread.thread_id, "agent", { input: user("a run in between") });
    await client.threads.updateState(thread.thread_id, { values: { messages: "and again" }, asNode: "model" });
    const parts = await stream.parts;
    expect(parts.map((part) => part.event)).toEqual(["state_update", "state_update"]);
    expect(parts[0]?.data).toMatchObject({
      values: { messages: [{ type: "human", content: "written by hand" }] },
      as_node: "model",
      checkpoint: { checkpoint_id: written.checkpoint.checkpoint_id },
    });
    expect(parts[1]?.data).toMatchObject({ values: { messages: [{ type: "human", content: "and again" }] } });
  });

  it("with run_modes and state_update together, sends both in the order they happened", async () => {
    const thread = await client.threads.create();
    const stream = follow(thread.thread_id, (parts) => parts.some((part) => part.event === "state_update") && parts.some(isRunDone), { streamMode: ["run_modes", "state_update"] });
    await stream.joined;
    await client.runs.wait(thread.thread_id, "agent", { input: user("first a run") });
    await client.threads.updateState(thread.thread_id, { values: { messages: "then a write" } });
    const parts = await stream.parts;
    expect(parts.findIndex(isRunDone)).toBeLessThan(parts.findIndex((part) => part.event === "state_update"));
  });

  it("resumes after Last-Event-ID, and '-' replays the runs whose events are kept", async () => {
    const thread = await client.threads.create();
    const stream = follow(thread.thread_id, runsDone(2));
    await stream.joined;
    const first = await client.runs.create(thread.thread_id, "agent", { input: user("one") });
    await client.runs.join(thread.thread_id, first.run_id);
    await client.runs.create(thread.thread_id, "agent", { input: user("two"), multitaskStrategy: "enqueue" });
    const whole = await stream.parts;
    const ids = whole.map((part) => part.id);

    // After the first event: all the rest, the same events with the same ids.
    const afterFirst = await follow(thread.thread_id, runsDone(2), { lastEventId: ids[0] }).parts;
    expect(afterFirst.map((part) => part.id)).toEqual(ids.slice(1));
    // After the first run's end: the second run only.
    const afterRun = await follow(thread.thread_id, runsDone(1), { lastEventId: `${first.run_id}:done` }).parts;
    const firstEnd = ids.indexOf(`${first.run_id}:done`);
    expect(afterRun.map((part) => part.id)).toEqual(ids.slice(firstEnd + 1));
    // From the beginning.
    const replayed = await follow(thread.thread_id, runsDone(2), { lastEventId: "-" }).parts;
    expect(replayed.map((part) => part.id)).toEqual(ids);
  });

  it("is a 404 for an unknown thread and a 422 for a bad id or stream mode, before any stream", async () => {
    const unknown = await server.request(`/threads/${crypto.randomUUID()}/stream`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/json/);
    expect((await server.request("/threads/not-a-uuid/stream")).status).toBe(422);
    const thread = await client.threads.create();
    const badMode = await server.request(`/threads/${thread.thread_id}/stream?stream_mode=everything`);
    expect(badMode.status).toBe(422);
    expect((badMode.body as { detail: string }).detail).toMatch(/stream_mode.*everything/);
    await expect(client.threads.joinStream(crypto.randomUUID()).next()).rejects.toMatchObject({ status: 404 });
  });

  it("stops looking at the thread once the client has left", async () => {
    const left = await client.threads.create();
    const client_ = new AbortController();
    const path = `/threads/${left.thread_id}/stream`;
    const leaving = fetch(`${server.baseUrl}${path}`, { signal: client_.signal }).then((response) => response.body?.getReader().read()).catch(() => undefined);
    await until(() => (looks.get(left.thread_id) ?? 0) >= 3);
    client_.abort();
    await leaving;
    await until(() => server.logs.some((line) => line.includes("request aborted") && line.includes(path)) && looksUnderWay === 0);
    const looksWhenLeft = looks.get(left.thread_id);

    // Meanwhile a client that stays is served as before, looking several times over.
    const witness = await client.threads.create();
    const stream = follow(witness.thread_id, runsDone(1));
    await until(() => (looks.get(witness.thread_id) ?? 0) >= 5);
    await client.runs.create(witness.thread_id, "agent", { input: user("still here") });
    await stream.parts;
    expect(looks.get(left.thread_id)).toBe(looksWhenLeft);
  });
});
