/**
 * Long-term memory end to end, on both backends: the configured agent behind the HTTP server
 * with API keys and LONG_TERM_MEMORY=on, driven through the SDK Client. What is checked is what a
 * user would notice: what reached the model (the system prompt of a new thread), what the Store
 * API shows and deletes, and that owners and users never see each other's memories. Extraction
 * runs in the background after each turn, so the tests poll the Store API for its result. Two
 * servers in this process on one PostgreSQL schema stand for two instances.
 */
import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MEMORY_HEADING } from "../../src/graph/long-term-memory.js";
import { FORGET_MEMORY_TOOL, SAVE_MEMORY_TOOL } from "../../src/graph/memory-tools.js";
import { messageContents, userInput } from "../support/fixtures.js";
import { type ChatRequest, type OpenAiStub, isExtractionRequest, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { until } from "../support/until.js";

const ADA_KEY = "ada-key-0123456789abcdef";
const BOB_KEY = "bob-key-0123456789abcdef";
const API_KEYS = `ada:${ADA_KEY},bob:${BOB_KEY}`;
/** Background extraction on a busy machine: a bound for when it is broken, not a timing claim. */
const EXTRACTION_DEADLINE_MS = 60_000;

/** Key and text of each memory a client's Store API shows under `["memories", user]`. */
async function memoriesOf(client: Client, user: string) {
  const { items } = await client.store.searchItems(["memories", user], { limit: 100 });
  return items.map((item) => ({ key: item.key, text: item.value.text }));
}

/** One turn in a new thread (or the given one); the reply's text. */
async function turn(client: Client, text: string, options: { threadId?: string; assistant?: string; configurable?: Record<string, unknown> } = {}) {
  const threadId = options.threadId ?? (await client.threads.create()).thread_id;
  const values = await client.runs.wait(threadId, options.assistant ?? "agent", { input: userInput(text), config: { configurable: options.configurable ?? {} } });
  return messageContents(values).at(-1);
}

const systemOf = (request: ChatRequest) => request.messages.filter((message) => message.role === "system").map(wireText).join("\n");
const lastUserText = (request: ChatRequest) => wireText(request.messages.filter((message) => message.role === "user").at(-1) ?? { role: "user", content: "" });

describe.each(await testBackends())("long-term memory through the server on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let ada: Client;
  let bob: Client;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend, env: { API_KEYS, LONG_TERM_MEMORY: "on" }, apiKey: ADA_KEY });
    ada = server.client;
    bob = new Client({ apiUrl: server.baseUrl, apiKey: BOB_KEY, callerOptions: { maxRetries: 0 } });
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });
  afterEach(async () => {
    // Each test starts from no memories (the owners' whole stores are theirs to clear).
    for (const client of [ada, bob]) {
      for (const item of (await client.store.searchItems([], { limit: 100 })).items) await client.store.deleteItem(item.namespace, item.key);
    }
  });

  /** The system prompt of the chat request (not an extraction) whose latest user message is `text`. */
  function promptFor(text: string): string {
    const requests = stub.requests.map((request) => request.body).filter((body) => !isExtractionRequest(body) && lastUserText(body) === text);
    expect(requests.length).toBeGreaterThan(0);
    return systemOf(requests.at(-1)!);
  }

  /** The tool names of the chat request whose latest user message is `text`. */
  function toolsFor(text: string): string[] {
    const request = stub.requests.map((recorded) => recorded.body).findLast((body) => !isExtractionRequest(body) && lastUserText(body) === text);
    return ((request?.tools as Array<{ function: { name: string } }> | undefined) ?? []).map((tool) => tool.function.name);
  }

  /** A question unique to the test, so its request is told apart from every other. */
  const question = () => `What is my name? (${randomUUID().slice(0, 8)})`;

  it("recalls a name told in thread 1 in a new thread of the same owner, and never for another owner or user", async () => {
    expect(await turn(ada, "Hello, my name is Ada.")).toBe("Nice to meet you, Ada!");
    await until(async () => (await memoriesOf(ada, "ada")).length > 0, EXTRACTION_DEADLINE_MS);
    expect(await memoriesOf(ada, "ada")).toEqual([{ key: "name", text: "The user's name is Ada." }]);
    const all = (await ada.store.searchItems(["memories"])).items;
    expect(all.map((item) => item.namespace)).toEqual([["memories", "ada"]]);

    const asked = question();
    expect(await turn(ada, asked)).toBe("Your name is Ada.");
    expect(promptFor(asked)).toContain(`${MEMORY_HEADING}- name: The user's name is Ada.`);
    expect(toolsFor(asked)).toEqual(expect.arrayContaining([SAVE_MEMORY_TOOL, FORGET_MEMORY_TOOL]));

    // Another owner: nothing recalled, nothing in its store.
    const bobAsked = question();
    expect(await turn(bob, bobAsked)).toBe("I don't know your name.");
    expect(promptFor(bobAsked)).not.toContain("Ada");
    expect(promptFor(bobAsked)).not.toContain(MEMORY_HEADING);
    expect((await bob.store.searchItems(["memories"])).items).toEqual([]);
    // Even naming Ada's user id: Bob's runs stay inside his own store.
    const bobAsAda = question();
    expect(await turn(bob, bobAsAda, { configurable: { user_id: "ada" } })).toBe("I don't know your name.");
    expect(promptFor(bobAsAda)).not.toContain(MEMORY_HEADING);

    // The same owner, another user of its own.
    const graceAsked = question();
    expect(await turn(ada, graceAsked, { configurable: { user_id: "grace" } })).toBe("I don't know your name.");
    expect(promptFor(graceAsked)).not.toContain("Ada");
    expect(promptFor(graceAsked)).not.toContain(MEMORY_HEADING);
  });

  it("forgets a name when asked, and keeps one version of a corrected fact", async () => {
    await turn(ada, "My name is Ada.");
    await until(async () => (await memoriesOf(ada, "ada")).length === 1, EXTRACTION_DEADLINE_MS);

    await turn(ada, "Actually, call me Bea.");
    await until(async () => (await memoriesOf(ada, "ada")).some((memory) => memory.text.includes("Bea")), EXTRACTION_DEADLINE_MS);
    expect(await memoriesOf(ada, "ada")).toEqual([{ key: "name", text: "The user's name is Bea." }]);
    const asked = question();
    expect(await turn(ada, asked)).toBe("Your name is Bea.");
    expect(promptFor(asked)).not.toContain("Ada");

    await turn(ada, "Please forget my name.");
    await until(async () => (await memoriesOf(ada, "ada")).length === 0, EXTRACTION_DEADLINE_MS);
    expect(await ada.store.getItem(["memories", "ada"], "name")).toBeNull();
    const again = question();
    expect(await turn(ada, again)).toBe("I don't know your name.");
    expect(promptFor(again)).not.toContain("Bea");
    expect(promptFor(again)).not.toContain(MEMORY_HEADING);
  });

  it("leaves memory out of an assistant that turns it off: nothing recalled, nothing stored", async () => {
    await ada.store.putItem(["memories", "ada"], "name", { text: "The user's name is Ada." });
    const assistant = await ada.assistants.create({ graphId: "agent", config: { configurable: { long_term_memory: false } } });
    const before = stub.requests.length;
    const asked = question();
    expect(await turn(ada, asked, { assistant: assistant.assistant_id })).toBe("I don't know your name.");
    expect(promptFor(asked)).not.toContain(MEMORY_HEADING);
    expect(toolsFor(asked)).not.toContain(SAVE_MEMORY_TOOL);
    expect(toolsFor(asked)).not.toContain(FORGET_MEMORY_TOOL);
    expect(await turn(ada, "My name is Zed, I prefer tea.", { assistant: assistant.assistant_id })).toBe("Nice to meet you, Zed!");
    // A turn with memory on after it, whose extraction is awaited: extractions of one user run in
    // order, so had the assistant's turn started one, it would have ended by then.
    await turn(ada, "I prefer green tea. Remember that.");
    await until(async () => (await memoriesOf(ada, "ada")).some((memory) => memory.key === "preference"), EXTRACTION_DEADLINE_MS);
    expect(JSON.stringify(await memoriesOf(ada, "ada"))).not.toContain("Zed");
    const extractions = stub.requests.slice(before).map((request) => request.body).filter(isExtractionRequest);
    expect(extractions.map((request) => wireText(request.messages.at(-1)!)).join("\n")).not.toContain("Zed");
  });

  it("shows the owner its memories through the Store API and lets it delete them; another key's delete leaves them", async () => {
    await turn(ada, "My name is Ada.");
    await until(async () => (await memoriesOf(ada, "ada")).length === 1, EXTRACTION_DEADLINE_MS);
    expect(await ada.store.getItem(["memories", "ada"], "name")).toMatchObject({ namespace: ["memories", "ada"], key: "name", value: { text: "The user's name is Ada." } });
    expect((await ada.store.listNamespaces({ prefix: ["memories"] })).namespaces).toEqual([["memories", "ada"]]);

    expect(await bob.store.getItem(["memories", "ada"], "name")).toBeNull();
    await bob.store.deleteItem(["memories", "ada"], "name");
    expect(await memoriesOf(ada, "ada")).toEqual([{ key: "name", text: "The user's name is Ada." }]);

    await ada.store.deleteItem(["memories", "ada"], "name");
    expect(await memoriesOf(ada, "ada")).toEqual([]);
    const asked = question();
    expect(await turn(ada, asked)).toBe("I don't know your name.");
    expect(promptFor(asked)).not.toContain(MEMORY_HEADING);
  });

  it("keeps a user id with dots and an @ apart, through configurable or context, and recalls it in a new thread", async () => {
    const user = "ada.l@example.com";
    await turn(ada, "My name is Ada.", { configurable: { user_id: user } });
    let namespaces: string[][] = [];
    await until(async () => (namespaces = (await ada.store.listNamespaces({ prefix: ["memories"] })).namespaces).length > 0, EXTRACTION_DEADLINE_MS);
    expect(namespaces).toHaveLength(1);
    expect(namespaces[0]![1]).not.toBe("ada");
    const asked = question();
    const thread = await ada.threads.create();
    const values = await ada.runs.wait(thread.thread_id, "agent", { input: userInput(asked), context: { user_id: user } });
    expect(messageContents(values).at(-1)).toBe("Your name is Ada.");
    expect(promptFor(asked)).toContain("- name: The user's name is Ada.");
    // The owner's own user (no user id given) has none of it.
    const own = question();
    expect(await turn(ada, own)).toBe("I don't know your name.");
    expect(promptFor(own)).not.toContain(MEMORY_HEADING);
  });

  it("answers the turn and keeps the thread when extraction fails, and stores nothing", async () => {
    stub.failMatching(isExtractionRequest, 500);
    try {
      const thread = await ada.threads.create();
      expect(await turn(ada, "My name is Ada.", { threadId: thread.thread_id })).toBe("Nice to meet you, Ada!");
      // The failed extraction was tried (the run did not wait for it), and left nothing behind.
      await until(() => stub.requests.some((request) => isExtractionRequest(request.body) && lastUserText(request.body).includes("My name is Ada.")), EXTRACTION_DEADLINE_MS);
      expect(await turn(ada, "What is my name?", { threadId: thread.thread_id })).toBe("Your name is Ada.");
      expect(messageContents((await ada.threads.getState(thread.thread_id)).values)).toEqual(["My name is Ada.", "Nice to meet you, Ada!", "What is my name?", "Your name is Ada."]);
      expect((await ada.threads.get(thread.thread_id)).status).toBe("idle");
      expect(await memoriesOf(ada, "ada")).toEqual([]);
    } finally {
      stub.failMatching(undefined);
    }
  });

  it("stops returning an item once its ttl has passed", async () => {
    // A ttl is in minutes and may be a fraction: 0.02 minutes is 1.2 seconds.
    await ada.store.putItem(["notes"], "brief", { text: "short-lived" }, { ttl: 0.02 });
    await ada.store.putItem(["notes"], "kept", { text: "stays" });
    expect(await ada.store.getItem(["notes"], "brief", { refreshTtl: false })).toMatchObject({ value: { text: "short-lived" } });
    // Reads restart an item's ttl unless told not to (LangGraph's refresh on read): the polling must not.
    await until(async () => (await ada.store.getItem(["notes"], "brief", { refreshTtl: false })) === null);
    expect(await ada.store.getItem(["notes"], "brief")).toBeNull();
    expect((await ada.store.searchItems(["notes"])).items.map((item) => item.key)).toEqual(["kept"]);
    expect((await ada.store.searchItems(["notes"], { query: "short-lived" })).items).toEqual([]);
  });
});

describe.skipIf(!(await postgresReachable()))("long-term memory on two instances sharing one PostgreSQL schema", () => {
  const schema = schemaName();
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  let stub: OpenAiStub;
  let first: TestServer;
  let second: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    const start = () => startServer(stub, { backend: "postgres", env: { API_KEYS, LONG_TERM_MEMORY: "on", DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema }, apiKey: ADA_KEY });
    first = await start();
    second = await start();
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await stub.close();
    await dropSchema(pool, schema);
    await pool.end();
  });

  it("recalls on instance 2, in a new thread, a name learnt through instance 1", async () => {
    expect(await turn(first.client, "Hello, my name is Ada.")).toBe("Nice to meet you, Ada!");
    await until(async () => (await memoriesOf(second.client, "ada")).length > 0, EXTRACTION_DEADLINE_MS);
    const before = stub.requests.length;
    expect(await turn(second.client, "What is my name?")).toBe("Your name is Ada.");
    const chat = stub.requests.slice(before).map((request) => request.body).filter((body) => !isExtractionRequest(body));
    expect(systemOf(chat.at(-1)!)).toContain(`${MEMORY_HEADING}- name: The user's name is Ada.`);
  });
});
