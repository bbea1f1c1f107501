/**
 * The response cache through the HTTP API, with the service built from the environment as in
 * production and the recording stub behind the real ChatOpenAI client: identical prompts never
 * reach the provider a second time, anything different does, hits still stream, and `/info`
 * counts them.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SqliteCheckpointer } from "../../src/storage/sqlite/checkpointer.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });
type WireMessage = { type: string; content: unknown; id?: string };
const messagesOf = (values: unknown) => (values as { messages?: WireMessage[] }).messages ?? [];

/** Sends one message on a new thread and returns the reply text and the thread id. */
async function askFresh(client: Client, content: string, extra: Record<string, unknown> = {}) {
  const thread = await client.threads.create();
  const values = await client.runs.wait(thread.thread_id, "agent", { input: user(content), ...extra });
  return { threadId: thread.thread_id, reply: messagesOf(values).at(-1) };
}

/** The cache counters `/info` shows. */
async function cacheInfo(server: TestServer) {
  return ((await server.request("/info")).body as { llm_cache: Record<string, unknown> }).llm_cache;
}

let stub: OpenAiStub;
beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(() => stub.close());
beforeEach(() => stub.reset());

describe("LLM_CACHE=memory", () => {
  let server: TestServer;
  let client: Client;
  beforeEach(async () => {
    server = await startServer(stub, { env: { LLM_CACHE: "memory" }, captureLogs: true });
    client = server.client;
  });
  afterEach(() => server.close());

  it("answers the same first question on a new thread without calling the provider", async () => {
    const first = await askFresh(client, "My name is Ada");
    const second = await askFresh(client, "My name is Ada");
    expect(stub.requests).toHaveLength(1);
    expect(second.reply?.content).toBe("Nice to meet you, Ada!");
    expect(second.reply?.content).toBe(first.reply?.content);
    // The thread keeps the cached reply as its own message, with an id of its own.
    const state = await client.threads.getState(second.threadId);
    expect(messagesOf(state.values).map((message) => [message.type, message.content])).toEqual([
      ["human", "My name is Ada"],
      ["ai", "Nice to meet you, Ada!"],
    ]);
    expect(second.reply?.id).not.toBe(first.reply?.id);
    expect(await cacheInfo(server)).toEqual({ mode: "memory", hits: 1, misses: 1, skipped: 0, entries: 1 });
    // The provider never sees the cache's call option.
    expect(Object.keys(stub.requests[0]!.body)).not.toContain("promptFingerprint");
    const lines = server.logs.map((line) => JSON.parse(line) as { msg: string; level: number });
    expect(lines.filter((line) => line.msg === "llm cache miss")).toHaveLength(1);
    expect(lines.filter((line) => line.msg === "llm cache hit" && line.level === 20)).toHaveLength(1);
  });

  it("continues a conversation after a hit with the cached reply in its history", async () => {
    const { threadId } = await askFresh(client, "My name is Ada");
    await askFresh(client, "My name is Ada");
    const values = await client.runs.wait(threadId, "agent", { input: user("What is my name?") });
    expect(messagesOf(values).at(-1)?.content).toBe("Your name is Ada.");
    expect(stub.requests).toHaveLength(2);
  });

  it("calls the provider when the system prompt or the history differs", async () => {
    await askFresh(client, "Hello there");
    await askFresh(client, "Hello there", { config: { configurable: { system_prompt: "You are terse." } } });
    expect(stub.requests).toHaveLength(2);
    // Same last question, different history before it.
    const { threadId } = await askFresh(client, "My name is Ada");
    await client.runs.wait(threadId, "agent", { input: user("Hello there") });
    expect(stub.requests).toHaveLength(4);
    expect(await cacheInfo(server)).toMatchObject({ hits: 0, misses: 4, entries: 4 });
  });

  it("tells prompts apart that differ only in an image", async () => {
    const withImage = (url: string) => [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url } }];
    await askFresh(client, withImage("https://example.com/cat.png") as unknown as string);
    await askFresh(client, withImage("https://example.com/dog.png") as unknown as string);
    expect(stub.requests).toHaveLength(2);
    await askFresh(client, withImage("https://example.com/dog.png") as unknown as string);
    expect(stub.requests).toHaveLength(2);
  });

  it("streams a cached reply as messages-tuple tokens under the id the thread keeps", async () => {
    stub.respondWith(() => "Tokens arrive one word at a time");
    const stream = async () => {
      const thread = await client.threads.create();
      const events: Array<{ event: string; data: unknown }> = [];
      for await (const part of client.runs.stream(thread.thread_id, "agent", { input: user("stream"), streamMode: ["messages-tuple"] })) events.push(part);
      const tuples = events.filter((part) => part.event === "messages").map((part) => part.data as [{ content: string; id: string; type: string }, { langgraph_node: string }]);
      return { thread, events, tuples };
    };
    const missed = await stream();
    expect(missed.tuples.length).toBeGreaterThan(2);
    const hit = await stream();
    expect(stub.requests).toHaveLength(1);
    expect(hit.events.map((part) => part.event)).not.toContain("error");
    expect(hit.tuples.length).toBeGreaterThan(0);
    // The text arrives once: the final message is not sent again after its token.
    expect(hit.tuples.map(([chunk]) => chunk.content).join("")).toBe("Tokens arrive one word at a time");
    expect(hit.tuples.every(([, metadata]) => metadata.langgraph_node === "model")).toBe(true);
    // The same kind of chunk as a streamed reply, so clients (the web chat) take it as reply text.
    expect(hit.tuples.every(([chunk]) => chunk.type === missed.tuples[0]![0].type)).toBe(true);
    const ids = new Set(hit.tuples.map(([chunk]) => chunk.id));
    expect(ids.size).toBe(1);
    const state = await client.threads.getState(hit.thread.thread_id);
    expect(messagesOf(state.values).at(-1)).toMatchObject({ type: "ai", content: "Tokens arrive one word at a time", id: [...ids][0] });
  });

  it("streams a cached reply in the legacy messages mode too", async () => {
    await askFresh(client, "legacy");
    const thread = await client.threads.create();
    const events: Array<{ event: string; data: unknown }> = [];
    for await (const part of client.runs.stream(thread.thread_id, "agent", { input: user("legacy"), streamMode: "messages" })) events.push(part);
    expect(stub.requests).toHaveLength(1);
    const partials = events.filter((part) => part.event === "messages/partial").map((part) => (part.data as Array<{ content: string }>)[0]!.content);
    expect(partials.at(-1)).toBe("You said: legacy");
    const complete = events.filter((part) => part.event === "messages/complete").flatMap((part) => part.data as Array<{ type: string; content: string }>);
    expect(complete.map((message) => [message.type, message.content])).toEqual([
      ["human", "legacy"],
      ["ai", "You said: legacy"],
    ]);
  });
});

describe("the temperature gate", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("does not cache calls above temperature 0", async () => {
    server = await startServer(stub, { env: { LLM_CACHE: "memory", TEMPERATURE: "0.7" } });
    await askFresh(server.client, "Hello there");
    await askFresh(server.client, "Hello there");
    expect(stub.requests).toHaveLength(2);
    expect(stub.requests[0]!.body.temperature).toBe(0.7);
    expect(await cacheInfo(server)).toEqual({ mode: "memory", hits: 0, misses: 0, skipped: 2, entries: 0 });
  });

  it("caches them with LLM_CACHE_ANY_TEMPERATURE=true", async () => {
    server = await startServer(stub, { env: { LLM_CACHE: "memory", TEMPERATURE: "0.7", LLM_CACHE_ANY_TEMPERATURE: "true" } });
    await askFresh(server.client, "Hello there");
    await askFresh(server.client, "Hello there");
    expect(stub.requests).toHaveLength(1);
    expect(await cacheInfo(server)).toMatchObject({ hits: 1, misses: 1 });
  });

  it("is off by default: every call reaches the provider and /info says off", async () => {
    server = await startServer(stub);
    await askFresh(server.client, "Hello there");
    await askFresh(server.client, "Hello there");
    expect(stub.requests).toHaveLength(2);
    expect(await cacheInfo(server)).toEqual({ mode: "off" });
  });
});

describe.each(await testBackends())("LLM_CACHE=database on %s", (backend) => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("keeps cached replies across a restart", async () => {
    const first = await startServer(stub, { backend, env: { LLM_CACHE: "database" } });
    server = first;
    await askFresh(first.client, "My name is Ada");
    expect(await cacheInfo(first)).toEqual({ mode: backend, hits: 0, misses: 1, skipped: 0, entries: 1 });
    if (backend === "sqlite") {
      await first.close({ keepData: true });
      server = await startServer(stub, { backend, dataDir: first.dataDir, env: { LLM_CACHE: "database" } });
    } else {
      // A second instance on the same schema stands for the restart (and shares the cache).
      server = await startServer(stub, { backend, env: { LLM_CACHE: "database", DATABASE_SCHEMA: schemaOf(first) } });
    }
    const again = await askFresh(server.client, "My name is Ada");
    expect(again.reply?.content).toBe("Nice to meet you, Ada!");
    expect(stub.requests).toHaveLength(1);
    expect(await cacheInfo(server)).toMatchObject({ mode: backend, hits: 1, misses: 0, entries: 1 });
    if (backend === "postgres") {
      await server.close({ keepData: true });
      server = first;
    }
  });

  it("never fails a turn when the cache's table is gone", async () => {
    server = await startServer(stub, { backend, env: { LLM_CACHE: "database" }, captureLogs: true });
    await askFresh(server.client, "Hello there");
    if (backend === "sqlite") (server.deps.checkpointer as SqliteCheckpointer).db.exec("DROP TABLE agent_llm_cache");
    else await (server.deps.checkpointer as unknown as { database: { pool: import("pg").Pool } }).database.pool.query(`DROP TABLE ${schemaOf(server)}.agent_llm_cache`);
    const after = await askFresh(server.client, "Hello there");
    expect(after.reply?.content).toBe("You said: Hello there");
    expect(stub.requests).toHaveLength(2);
    const warnings = server.logs.map((line) => JSON.parse(line) as { msg: string; level: number }).filter((line) => line.level === 40);
    expect(warnings.map((line) => line.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/lookup failed/), expect.stringMatching(/update failed/)]));
    expect(await cacheInfo(server)).toMatchObject({ entries: null });
  });
});

/** The PostgreSQL schema a test server runs in. */
function schemaOf(server: TestServer): string {
  return (server.deps.checkpointer as unknown as { schema: string }).schema;
}
