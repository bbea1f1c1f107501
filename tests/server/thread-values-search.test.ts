/**
 * Thread search and count by `values`, as the SDK client asks for them: a thread matches when its
 * current values contain the filter (jsonb's `@>`). Filters on `windowStart` are answered from the
 * projection kept on each thread; filters on `messages` from the threads' own states. Checked after
 * runs, after state writes and copies, across pages, and within each owner's threads.
 */
import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.each(await testBackends())("thread search by values on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    // A small context, so that long turns move a thread's window (its `windowStart`).
    server = await startServer(stub, { backend, env: { CONTEXT_TOKENS: "400", MAX_OUTPUT_TOKENS: "50" } });
    client = server.client;
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  /** Threads of one test: a metadata marker keeps other tests' threads out of its searches. */
  const suite = () => {
    const marker = randomUUID();
    return {
      create: () => client.threads.create({ metadata: { marker } }),
      ids: async (values: Record<string, unknown>, page: { limit?: number; offset?: number } = {}) =>
        (await client.threads.search({ metadata: { marker }, values, limit: page.limit ?? 100, offset: page.offset ?? 0 })).map((thread) => thread.thread_id),
      count: (values: Record<string, unknown>) => client.threads.count({ metadata: { marker }, values }),
    };
  };

  it("after runs: matches by the messages and by the other values of each thread's current state, exactly", async () => {
    const { create, ids, count } = suite();
    const [ada, lyon, idle] = [await create(), await create(), await create()];
    await client.runs.wait(ada.thread_id, "agent", { input: user("My name is Ada") });
    await client.runs.wait(lyon.thread_id, "agent", { input: user("I live in Lyon") });

    // A thread that never ran has no windowStart yet; those that ran start their window at 0.
    expect((await ids({ windowStart: 0 })).sort()).toEqual([ada.thread_id, lyon.thread_id].sort());
    expect(await ids({ windowStart: 1 })).toEqual([]);
    expect((await ids({})).sort()).toEqual([ada.thread_id, lyon.thread_id, idle.thread_id].sort());
    expect(await ids({ messages: [{ type: "human", content: "My name is Ada" }] })).toEqual([ada.thread_id]);
    expect(await ids({ messages: [{ type: "ai", content: "Nice to meet you, Ada!" }] })).toEqual([ada.thread_id]);
    // Containment, not likeness: the right text in the wrong kind of message, or a part of it, is no match.
    expect(await ids({ messages: [{ type: "ai", content: "My name is Ada" }] })).toEqual([]);
    expect(await ids({ messages: [{ content: "My name" }] })).toEqual([]);
    // Several messages: each must be in the thread, in any order.
    expect(await ids({ messages: [{ content: "You said: I live in Lyon" }, { type: "human", content: "I live in Lyon" }], windowStart: 0 })).toEqual([lyon.thread_id]);
    expect(await ids({ messages: [{ content: "I live in Lyon" }, { content: "My name is Ada" }] })).toEqual([]);
    expect(await count({ windowStart: 0 })).toBe(2);
    expect(await count({ messages: [{ type: "human" }] })).toBe(2);
    expect(await count({ messages: [{ type: "human", content: "My name is Ada" }] })).toBe(1);

    // The values in the answer are the thread's, whichever way it was found.
    const [found] = await client.threads.search({ metadata: { marker: ada.metadata?.marker }, values: { messages: [{ content: "My name is Ada" }] } });
    expect((found?.values as { messages: Array<{ content: string }> }).messages.map((message) => message.content)).toEqual(["My name is Ada", "Nice to meet you, Ada!"]);
  });

  it("after state writes, copies and runs that move the window: matches what the state is now, not what it was", async () => {
    const { create, ids } = suite();
    const [ran, written] = [await create(), await create()];
    await client.runs.wait(ran.thread_id, "agent", { input: user("hello") });
    expect(await ids({ windowStart: 0 })).toEqual([ran.thread_id]);
    // A state write gives the thread its first values: it matches from then on.
    await client.threads.updateState(written.thread_id, { values: { messages: [{ type: "human", content: "written by hand" }] } });
    expect((await ids({ windowStart: 0 })).sort()).toEqual([ran.thread_id, written.thread_id].sort());
    expect(await ids({ messages: [{ content: "written by hand" }] })).toEqual([written.thread_id]);

    // A copy has its source's values; a run on it changes only its own.
    const copy = await client.threads.copy(written.thread_id);
    expect((await ids({ windowStart: 0, messages: [{ content: "written by hand" }] })).sort()).toEqual([written.thread_id, copy.thread_id].sort());
    // Long turns (the context is small here) move the copy's window past its first messages.
    const long = (word: string) => Array.from({ length: 120 }, () => word).join(" ");
    await client.runs.wait(copy.thread_id, "agent", { input: user(long("copy")) });
    await client.runs.wait(copy.thread_id, "agent", { input: user(long("again")) });
    const { windowStart } = (await client.threads.getState(copy.thread_id)).values as { windowStart: number };
    expect(windowStart).toBeGreaterThan(0);
    expect((await ids({ windowStart: 0 })).sort()).toEqual([ran.thread_id, written.thread_id].sort());
    expect(await ids({ windowStart })).toEqual([copy.thread_id]);
    expect(await ids({ windowStart, messages: [{ content: "written by hand" }, { type: "human", content: long("again") }] })).toEqual([copy.thread_id]);
    expect(await ids({ messages: [{ type: "human", content: long("copy") }] })).toEqual([copy.thread_id]);
  });

  it("pages through matches in order: each match once, none of the others", async () => {
    const { create, ids, count } = suite();
    const threads = [];
    for (let index = 0; index < 7; index += 1) threads.push(await create());
    // Every other thread says the words searched for.
    for (const [index, thread] of threads.entries()) await client.runs.wait(thread.thread_id, "agent", { input: user(index % 2 === 0 ? "ping" : "pong") });
    const newestFirst = threads.map((thread) => thread.thread_id).reverse();
    const pings = newestFirst.filter((_id, index) => (newestFirst.length - 1 - index) % 2 === 0);
    for (const values of [{ messages: [{ content: "You said: ping" }] }, { windowStart: 0, messages: [{ type: "human", content: "ping" }] }]) {
      const pages = [await ids(values, { limit: 2, offset: 0 }), await ids(values, { limit: 2, offset: 2 }), await ids(values, { limit: 2, offset: 4 })];
      expect(pages).toEqual([pings.slice(0, 2), pings.slice(2, 4), []]);
      expect(await count(values)).toBe(4);
    }
    expect(await ids({ windowStart: 0 }, { limit: 3, offset: 3 })).toEqual(newestFirst.slice(3, 6));
  });

  it("refuses (422) a messages filter that would read more than 1000 threads' states; narrower filters are answered", async () => {
    const marker = randomUUID();
    // Straight into storage: a thousand threads through HTTP would take a while.
    const threadIds = Array.from({ length: 1001 }, () => randomUUID());
    for (const threadId of threadIds) await server.deps.storage.threads.createThread({ threadId, metadata: { marker } });
    const messages = [{ content: "nowhere" }];
    const refused = await server.request("/threads/search", { body: { metadata: { marker }, values: { messages } } });
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({ detail: expect.stringMatching(/more than 1000 threads match the other filters: narrow them/) });
    expect((await server.request("/threads/count", { body: { metadata: { marker }, values: { messages } } })).status).toBe(422);
    // Without the messages part, the database answers alone, however many match.
    expect(await client.threads.count({ metadata: { marker }, values: {} })).toBe(1001);
    expect(await client.threads.search({ metadata: { marker }, ids: threadIds.slice(0, 10), values: { messages } })).toEqual([]);
  });

  it("answers 422, creating nothing, for a values filter that is not an object", async () => {
    const response = await server.request("/threads/search", { body: { values: ["messages"] } });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ detail: expect.stringMatching(/values/) });
  });
});

describe("thread search by values, with API keys", () => {
  const ALICE = "alice-key-0123456789abcdef";
  const BOB = "bob-key-0123456789abcdefgh";
  let stub: OpenAiStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: { API_KEYS: `alice:${ALICE},bob:${BOB}` } });
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  it("finds only the caller's own threads", async () => {
    const alice = new Client({ apiUrl: server.baseUrl, apiKey: ALICE, callerOptions: { maxRetries: 0 } });
    const bob = new Client({ apiUrl: server.baseUrl, apiKey: BOB, callerOptions: { maxRetries: 0 } });
    const alices = await alice.threads.create();
    const bobs = await bob.threads.create();
    await alice.runs.wait(alices.thread_id, "agent", { input: user("shared words") });
    await bob.runs.wait(bobs.thread_id, "agent", { input: user("shared words") });
    const filter = { messages: [{ type: "human", content: "shared words" }] };
    expect((await alice.threads.search({ values: filter })).map((thread) => thread.thread_id)).toEqual([alices.thread_id]);
    expect((await bob.threads.search({ values: { ...filter, windowStart: 0 } })).map((thread) => thread.thread_id)).toEqual([bobs.thread_id]);
    expect((await alice.threads.search({ values: { windowStart: 0 } })).map((thread) => thread.thread_id)).toEqual([alices.thread_id]);
    expect(await alice.threads.count({ values: filter })).toBe(1);
    expect(await bob.threads.count({ values: { windowStart: 0 } })).toBe(1);
  });
});
