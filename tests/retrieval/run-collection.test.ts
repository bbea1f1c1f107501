/**
 * A run searches one collection, its caller's: wherever a run names a collection (context,
 * config, its thread's metadata) and however those disagree, another owner's collection is a
 * 404 and its passages never reach the model. Two owners' API keys, on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenAiStub, type Responder, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { type Backend, type TestServer, startServer, testBackends } from "../support/server.js";

const ALICE = "alice-key-0123456789abcdef";
const BOB = "bob-key-fedcba9876543210xyz";
/** Words only Bob's document holds: they must never reach a model call made for Alice. */
const BOB_SECRET = "BOBSECRET4711";
const ALICE_PASSAGE = "returns are accepted within 30 days";

/** Searches whenever the tool is offered; given the result, answers with it verbatim. */
const searcher: Responder = (request) => {
  const last = request.messages.at(-1)!;
  if (last.role === "tool") return `Found: ${wireText(last)}`;
  const tools = (request.tools as Array<{ function: { name: string } }> | undefined) ?? [];
  if (tools.some((tool) => tool.function.name === "search_documents")) return { tool_calls: [{ name: "search_documents", arguments: { query: "refund policy shop" } }] };
  return "No documents here.";
};

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.each(await testBackends())("the collection of a run (%s)", (backend: Backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let aliceCollection: string;
  let bobCollection: string;

  const as = (key: string) => ({ headers: { "x-api-key": key } });
  const post = (path: string, body: unknown, key = ALICE) => server.request(path, { body, ...as(key) });
  /** What the model was sent for Alice's runs, all calls together. */
  const sentToModel = () => JSON.stringify(stub.requests.map((request) => request.body));
  /** The texts of the tool results the model was given. */
  const toolResults = () => stub.requests.flatMap((request) => request.body.messages.filter((message) => message.role === "tool").map(wireText));

  async function collectionWith(key: string, source: string, content: string) {
    const created = await post("/collections", { name: source }, key);
    expect(created.status).toBe(201);
    const id = (created.body as { collection_id: string }).collection_id;
    expect((await post(`/collections/${id}/documents`, { source, content }, key)).status).toBe(201);
    return id;
  }

  async function aliceThread(metadata: Record<string, unknown> = {}) {
    const created = await post("/threads", { metadata });
    expect(created.status).toBe(200);
    return (created.body as { thread_id: string }).thread_id;
  }

  /** Expects a 404 for Bob's collection that left nothing behind and called no model. */
  async function expectRefused(response: { status: number; body: unknown }, threadId?: string) {
    expect(response.status, JSON.stringify(response.body)).toBe(404);
    expect((response.body as { detail: string }).detail).toMatch(/Collection .* not found/);
    expect(stub.requests).toHaveLength(0);
    if (threadId) expect((await server.request(`/threads/${threadId}/runs`, as(ALICE))).body).toEqual([]);
  }

  /** Expects a run that searched Alice's collection and nothing of Bob's. */
  function expectSearchedOwn(response: { status: number; body: unknown }) {
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(toolResults().length).toBeGreaterThan(0);
    expect(toolResults().every((text) => text.includes(ALICE_PASSAGE))).toBe(true);
    expect(sentToModel()).not.toContain(BOB_SECRET);
    expect(JSON.stringify(response.body)).not.toContain(BOB_SECRET);
  }

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend, env: { API_KEYS: `alice:${ALICE},bob:${BOB}` } });
    aliceCollection = await collectionWith(ALICE, "alice-shop.md", `Refund policy of the shop: ${ALICE_PASSAGE}.`);
    bobCollection = await collectionWith(BOB, "bob-shop.md", `Refund policy of the shop: the vault code is ${BOB_SECRET}.`);
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });
  beforeEach(() => {
    stub.reset();
    stub.respondWith(searcher);
  });

  type Where = { config?: unknown; context?: unknown; metadata?: unknown };
  const bob = () => bobCollection;
  const alice = () => aliceCollection;
  const cases: Array<[string, () => Where, "refused" | "own"]> = [
    ["config names Bob's", () => ({ config: bob() }), "refused"],
    ["context names Bob's", () => ({ context: bob() }), "refused"],
    ["config names her own, context Bob's", () => ({ config: alice(), context: bob() }), "refused"],
    ["config is empty, context names Bob's", () => ({ config: "", context: bob() }), "refused"],
    ["config is null, context names Bob's", () => ({ config: null, context: bob() }), "refused"],
    ["context is empty, config names Bob's", () => ({ context: "", config: bob() }), "refused"],
    ["context names her own, config Bob's (context decides)", () => ({ context: alice(), config: bob() }), "own"],
    ["her thread is bound to Bob's", () => ({ metadata: bob() }), "refused"],
    ["her thread is bound to Bob's, config is empty", () => ({ metadata: bob(), config: "" }), "refused"],
    ["her thread is bound to her own, context names Bob's", () => ({ metadata: alice(), context: bob() }), "refused"],
    ["her thread is bound to her own, config names Bob's", () => ({ metadata: alice(), config: bob() }), "refused"],
    ["her thread is bound to Bob's, config names her own (the run decides)", () => ({ metadata: bob(), config: alice() }), "own"],
    ["her thread is bound to her own, the run names none", () => ({ metadata: alice(), config: "", context: null }), "own"],
  ];

  it.each(cases)("on a thread, when %s", async (_name, where, expected) => {
    const { config, context, metadata } = where();
    const threadId = await aliceThread(metadata === undefined ? {} : { collection_id: metadata });
    const body = {
      assistant_id: "agent",
      input: user("What is the refund policy?"),
      ...(config === undefined ? {} : { config: { configurable: { collection_id: config } } }),
      ...(context === undefined ? {} : { context: { collection_id: context } }),
    };
    const response = await post(`/threads/${threadId}/runs/wait`, body);
    if (expected === "refused") await expectRefused(response, threadId);
    else expectSearchedOwn(response);
    // Background runs and streams are created the same way.
    if (expected === "refused") {
      await expectRefused(await post(`/threads/${threadId}/runs`, body), threadId);
      await expectRefused(await post(`/threads/${threadId}/runs/stream`, body), threadId);
    }
  });

  it("refuses stateless runs, batches and runs that create their thread, leaving no thread behind", async () => {
    const before = (await post("/threads/count", {})).body;
    const mixed = { config: { configurable: { collection_id: aliceCollection } }, context: { collection_id: bobCollection } };
    const run = { assistant_id: "agent", input: user("What is the refund policy?"), ...mixed };
    await expectRefused(await post("/runs/wait", run));
    await expectRefused(await post("/runs/wait", { ...run, on_completion: "keep" }));
    await expectRefused(await post("/runs/stream", run));
    await expectRefused(await post("/runs", run));
    const fine = { assistant_id: "agent", input: user("hi"), on_completion: "keep", config: { configurable: { collection_id: aliceCollection } } };
    await expectRefused(await post("/runs/batch", [fine, run]));
    await expectRefused(await post(`/threads/${crypto.randomUUID()}/runs/wait`, { ...run, if_not_exists: "create" }));
    expect((await post("/threads/count", {})).body).toEqual(before);

    // The same runs on her own collection search it, and only it.
    expectSearchedOwn(await post("/runs/wait", { ...run, context: { collection_id: aliceCollection } }));
  });

  it("refuses a command that calls the search tool itself, unless on her own collection", async () => {
    const threadId = await aliceThread();
    const toolCall = { type: "ai", content: "", tool_calls: [{ name: "search_documents", args: { query: "refund policy shop" }, id: "call_forged" }] };
    const command = { update: { messages: [{ type: "human", content: "What is the refund policy?" }, toolCall] }, goto: "tools" };
    const body = { assistant_id: "agent", command, config: { configurable: { collection_id: aliceCollection } } };
    await expectRefused(await post(`/threads/${threadId}/runs/wait`, { ...body, context: { collection_id: bobCollection } }), threadId);
    expectSearchedOwn(await post(`/threads/${threadId}/runs/wait`, body));
    const state = (await server.request(`/threads/${threadId}/state`, as(ALICE))).body;
    expect(JSON.stringify(state)).toContain(ALICE_PASSAGE);
    expect(JSON.stringify(state)).not.toContain(BOB_SECRET);
  });

  it("keeps a queued run on the collection it was admitted with when the thread is rebound meanwhile", async () => {
    const threadId = await aliceThread({ collection_id: aliceCollection });
    let release!: () => void;
    stub.inject({ kind: "pause", afterChunks: 1, resume: new Promise<void>((resolve) => (release = resolve)) });
    const first = await post(`/threads/${threadId}/runs`, { assistant_id: "agent", input: user("first") });
    expect(first.status).toBe(200);
    const queued = await post(`/threads/${threadId}/runs`, { assistant_id: "agent", input: user("second"), multitask_strategy: "enqueue" });
    expect(queued.status).toBe(200);
    // Alice rebinds her thread to Bob's collection while the second run waits its turn.
    const patched = await server.request(`/threads/${threadId}`, { method: "PATCH", body: { metadata: { collection_id: bobCollection } }, ...as(ALICE) });
    expect(patched.status).toBe(200);
    release();
    const joined = await server.request(`/threads/${threadId}/runs/${(queued.body as { run_id: string }).run_id}/join`, as(ALICE));
    expectSearchedOwn(joined);
    // A run created now is refused: the thread names Bob's collection.
    stub.reset();
    await expectRefused(await post(`/threads/${threadId}/runs/wait`, { assistant_id: "agent", input: user("third") }));
  });

  it("refuses runs on a copy of a thread bound to Bob's collection", async () => {
    const threadId = await aliceThread({ collection_id: bobCollection });
    const copy = await post(`/threads/${threadId}/copy`, {});
    expect(copy.status).toBe(200);
    const copyId = (copy.body as { thread_id: string }).thread_id;
    await expectRefused(await post(`/threads/${copyId}/runs/wait`, { assistant_id: "agent", input: user("What is the refund policy?") }), copyId);
  });

  it("answers 422 to a collection id that is not a string, wherever it is", async () => {
    const threadId = await aliceThread();
    for (const body of [{ context: { collection_id: 42 } }, { config: { configurable: { collection_id: { id: bobCollection } } } }]) {
      const response = await post(`/threads/${threadId}/runs/wait`, { assistant_id: "agent", input: user("hi"), ...body });
      expect(response.status).toBe(422);
      expect((response.body as { detail: string }).detail).toMatch(/collection_id must be a collection id/);
    }
    expect(stub.requests).toHaveLength(0);
  });

  it("lets Bob search his own collection the same ways", async () => {
    const created = await post("/threads", { metadata: { collection_id: bobCollection } }, BOB);
    const threadId = (created.body as { thread_id: string }).thread_id;
    const response = await post(`/threads/${threadId}/runs/wait`, { assistant_id: "agent", input: user("What is the refund policy?"), context: { collection_id: bobCollection } }, BOB);
    expect(response.status).toBe(200);
    expect(toolResults().join("\n")).toContain(BOB_SECRET);
  });
});
