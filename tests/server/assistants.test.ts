/**
 * Assistants as the official client sees them, on both backends: create (raise, do_nothing),
 * get, update (a new version each time), versions, set latest, search with every filter, sort
 * and select, count, delete (with and without its threads), schemas; what a run takes from its
 * assistant (seen at the stub model) and what it overrides; owners with API keys; the system
 * assistant kept as it is; bad bodies refused without a trace; two instances on one database.
 */
import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { RETRIEVAL_INSTRUCTIONS } from "../../src/graph/search-documents-tool.js";
import { ASSISTANT_ID } from "../../src/server/assistants.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });
/** The system prompt of the last request that reached the stub model. */
const lastSystemPrompt = (stub: OpenAiStub) => {
  const messages = stub.requests.at(-1)?.body.messages ?? [];
  return messages[0]?.role === "system" ? wireText(messages[0]) : undefined;
};
const ALICE = "alice-key-0123456789abcdef";
const BOB = "bob-key-0123456789abcdef0";

describe.each(await testBackends())("on %s", (backend) => {
  describe("assistants", () => {
    const fixture = useStubAndServer(backend);
    const client = () => fixture.server.client;
    /** A tag no other test uses, to search among this test's assistants only. */
    const tagged = () => ({ tag: randomUUID() });

    it("creates an assistant; a taken id is a 409 with raise, and the existing one with do_nothing", async () => {
      const assistantId = randomUUID();
      const created = await client().assistants.create({
        graphId: "agent",
        assistantId,
        name: "Pirate",
        description: "Talks like a pirate",
        config: { configurable: { system_prompt: "Speak like a pirate." }, tags: ["sea"] },
        context: { topic: "ships" },
        metadata: { team: "fun" },
      });
      expect(created).toEqual({
        assistant_id: assistantId,
        graph_id: "agent",
        name: "Pirate",
        description: "Talks like a pirate",
        config: { configurable: { system_prompt: "Speak like a pirate." }, tags: ["sea"] },
        context: { topic: "ships" },
        metadata: { team: "fun" },
        version: 1,
        created_at: expect.any(String),
        updated_at: created.created_at,
      });
      await expect(client().assistants.create({ graphId: "agent", assistantId, name: "Other" })).rejects.toMatchObject({ status: 409 });
      expect(await client().assistants.create({ graphId: "agent", assistantId, name: "Other", ifExists: "do_nothing" })).toEqual(created);
      expect(await client().assistants.get(assistantId)).toEqual(created);
      // Without an id or a name: a new id, "Untitled", empty settings.
      const plain = await client().assistants.create({ graphId: "agent" });
      expect(plain).toMatchObject({ name: "Untitled", description: null, config: {}, context: {}, metadata: {}, version: 1 });
      expect(plain.assistant_id).not.toBe(assistantId);
    });

    it("answers 404 for an unknown assistant, worded as the official server", async () => {
      const unknown = randomUUID();
      for (const path of [`/assistants/${unknown}`, `/assistants/${unknown}/schemas`, `/assistants/${unknown}/graph`]) {
        expect(await fixture.server.request(path)).toMatchObject({ status: 404, body: { detail: `Assistant "${unknown}" not found` } });
      }
      expect(await fixture.server.request(`/assistants/${unknown}`, { method: "PATCH", body: { name: "x" } })).toMatchObject({ status: 404 });
      expect(await fixture.server.request(`/assistants/${unknown}`, { method: "DELETE" })).toMatchObject({ status: 404 });
      expect(await fixture.server.request(`/assistants/${unknown}/versions`, { body: {} })).toMatchObject({ status: 404 });
      expect(await fixture.server.request(`/assistants/${unknown}/latest`, { body: { version: 1 } })).toMatchObject({ status: 404 });
      const run = await fixture.server.request("/runs/wait", { body: { assistant_id: unknown, input: user("hi") } });
      expect(run).toMatchObject({ status: 404, body: { detail: expect.stringContaining(`No assistant found for "${unknown}"`) } });
    });

    it("makes a new version on every update, lists versions newest first, and sets the one in use", async () => {
      const assistant = await client().assistants.create({ graphId: "agent", name: "v1", config: { configurable: { system_prompt: "Prompt one." } }, metadata: { stage: "draft", owner: "ops" } });
      const second = await client().assistants.update(assistant.assistant_id, { config: { configurable: { system_prompt: "Prompt two." } }, metadata: { stage: "live" } });
      // config is replaced whole, metadata merged, the name kept.
      expect(second).toMatchObject({ version: 2, name: "v1", config: { configurable: { system_prompt: "Prompt two." } }, metadata: { stage: "live", owner: "ops" } });
      const third = await client().assistants.update(assistant.assistant_id, { name: "v3", description: "third" });
      expect(third).toMatchObject({ version: 3, name: "v3", description: "third", config: { configurable: { system_prompt: "Prompt two." } } });
      const versions = await client().assistants.getVersions(assistant.assistant_id);
      expect(versions.map((version) => [version.version, version.name, version.config.configurable?.system_prompt])).toEqual([
        [3, "v3", "Prompt two."],
        [2, "v1", "Prompt two."],
        [1, "v1", "Prompt one."],
      ]);
      expect((await client().assistants.getVersions(assistant.assistant_id, { limit: 1, offset: 1 })).map((version) => version.version)).toEqual([2]);
      expect((await client().assistants.getVersions(assistant.assistant_id, { metadata: { stage: "draft" } })).map((version) => version.version)).toEqual([1]);

      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, assistant.assistant_id, { input: user("hello") });
      expect(lastSystemPrompt(fixture.stub)).toBe("Prompt two.");
      const restored = await client().assistants.setLatest(assistant.assistant_id, 1);
      expect(restored).toMatchObject({ version: 1, name: "v1", config: { configurable: { system_prompt: "Prompt one." } }, metadata: { stage: "draft", owner: "ops" } });
      expect(await client().assistants.get(assistant.assistant_id)).toMatchObject({ version: 1 });
      await client().runs.wait(thread.thread_id, assistant.assistant_id, { input: user("again") });
      expect(lastSystemPrompt(fixture.stub)).toBe("Prompt one.");
      // The run record and the thread name the real assistant and its graph.
      const [latestRun] = await client().runs.list(thread.thread_id, { limit: 1 });
      expect(latestRun).toMatchObject({ assistant_id: assistant.assistant_id });
      expect((await client().threads.get(thread.thread_id)).metadata).toMatchObject({ assistant_id: assistant.assistant_id, graph_id: "agent" });
      await expect(client().assistants.setLatest(assistant.assistant_id, 9)).rejects.toMatchObject({ status: 404 });
      expect(await client().assistants.update(assistant.assistant_id, {})).toMatchObject({ version: 4, name: "v1" });
    });

    it("gives runs the assistant's settings as defaults: the run's own config and context win", async () => {
      const assistant = await client().assistants.create({
        graphId: "agent",
        config: { configurable: { system_prompt: "You are an expert in {topic}." } },
        context: { topic: "ships" },
      });
      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, assistant.assistant_id, { input: user("one") });
      expect(lastSystemPrompt(fixture.stub)).toBe("You are an expert in ships.");
      await client().runs.wait(thread.thread_id, assistant.assistant_id, { input: user("two"), context: { topic: "trains" } });
      expect(lastSystemPrompt(fixture.stub)).toBe("You are an expert in trains.");
      await client().runs.wait(thread.thread_id, assistant.assistant_id, { input: user("three"), config: { configurable: { topic: "planes" } } });
      expect(lastSystemPrompt(fixture.stub)).toBe("You are an expert in planes.");
      await client().runs.wait(thread.thread_id, assistant.assistant_id, { input: user("four"), config: { configurable: { system_prompt: "Be brief." } } });
      expect(lastSystemPrompt(fixture.stub)).toBe("Be brief.");
      // The graph's run metadata names the real assistant and its graph (the messages' metadata shows it).
      const parts: Array<{ event: string; data: unknown }> = [];
      for await (const part of client().runs.stream(null, assistant.assistant_id, { input: user("five"), streamMode: "messages-tuple" })) parts.push(part as { event: string; data: unknown });
      const tuple = parts.find((part) => part.event === "messages")?.data as [unknown, Record<string, unknown>] | undefined;
      expect(tuple?.[1]).toMatchObject({ assistant_id: assistant.assistant_id, graph_id: "agent" });
      // The assistant's context over its config, as for a run's own.
      const contextual = await client().assistants.create({ graphId: "agent", config: { configurable: { system_prompt: "From config." } }, context: { system_prompt: "From context." } });
      await client().runs.wait(null, contextual.assistant_id, { input: user("stateless") });
      expect(lastSystemPrompt(fixture.stub)).toBe("From context.");
      // The system assistant (by graph id) keeps the server's default prompt.
      await client().runs.wait(null, "agent", { input: user("default") });
      expect(lastSystemPrompt(fixture.stub)).toBe("You are a helpful assistant.");
    });

    it("binds its runs to the collection it names, under a collection the run names; an unknown collection is refused", async () => {
      const collection = (await fixture.server.request("/collections", { body: { name: "handbook" } })).body as { collection_id: string };
      const other = (await fixture.server.request("/collections", { body: { name: "other" } })).body as { collection_id: string };
      const assistant = await client().assistants.create({ graphId: "agent", context: { collection_id: collection.collection_id } });
      await client().runs.wait(null, assistant.assistant_id, { input: user("hi") });
      // The run searches: the model is offered the tool and told about it.
      const tools = (fixture.stub.requests.at(-1)?.body.tools as Array<{ function: { name: string } }> | undefined) ?? [];
      expect(tools.map((tool) => tool.function.name)).toEqual(["search_documents"]);
      expect(lastSystemPrompt(fixture.stub)).toContain(RETRIEVAL_INSTRUCTIONS);
      // A run naming another collection gets that one: its run record says which.
      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, assistant.assistant_id, { input: user("hi"), config: { configurable: { collection_id: other.collection_id } } });
      const [run] = await client().runs.list(thread.thread_id, { limit: 1 });
      expect((run as unknown as { kwargs: { config: { configurable: Record<string, unknown> } } }).kwargs.config.configurable.collection_id).toBe(other.collection_id);
      const unknown = randomUUID();
      const refused = await fixture.server.request("/assistants", { body: { graph_id: "agent", config: { configurable: { collection_id: unknown } } } });
      expect(refused).toMatchObject({ status: 404, body: { detail: expect.stringContaining(unknown) } });
      expect(await fixture.server.request(`/assistants/${assistant.assistant_id}`, { method: "PATCH", body: { context: { collection_id: unknown } } })).toMatchObject({ status: 404 });
      expect(await client().assistants.get(assistant.assistant_id)).toMatchObject({ version: 1 });
    });

    it("searches by graph, name, metadata; sorts by every field both ways; selects fields; counts", async () => {
      const tag = tagged();
      const made = [];
      for (const name of ["Bravo", "alpha_one", "Charlie"]) made.push(await client().assistants.create({ graphId: "agent", name, metadata: { ...tag, name } }));
      await client().assistants.update(made[0]!.assistant_id, {});
      const ids = (found: Array<{ assistant_id: string }>) => found.map((assistant) => assistant.assistant_id);
      const [bravo, alpha, charlie] = made.map((assistant) => assistant.assistant_id) as [string, string, string];
      // Newest first by default.
      expect(ids(await client().assistants.search({ metadata: tag }))).toEqual([charlie, alpha, bravo]);
      expect(ids(await client().assistants.search({ metadata: tag, name: "ALPHA_" }))).toEqual([alpha]);
      expect(ids(await client().assistants.search({ metadata: { ...tag, name: "Charlie" } }))).toEqual([charlie]);
      expect(ids(await client().assistants.search({ metadata: tag, graphId: "other" }))).toEqual([]);
      expect(ids(await client().assistants.search({ metadata: tag, sortBy: "name", sortOrder: "asc" }))).toEqual([bravo, charlie, alpha]);
      expect(ids(await client().assistants.search({ metadata: tag, sortBy: "name", sortOrder: "desc" }))).toEqual([alpha, charlie, bravo]);
      expect(ids(await client().assistants.search({ metadata: tag, sortBy: "created_at", sortOrder: "asc" }))).toEqual([bravo, alpha, charlie]);
      expect(ids(await client().assistants.search({ metadata: tag, sortBy: "updated_at", sortOrder: "desc" }))).toEqual([bravo, charlie, alpha]);
      expect(ids(await client().assistants.search({ metadata: tag, sortBy: "updated_at", sortOrder: "asc" }))).toEqual([alpha, charlie, bravo]);
      const byId = [bravo, alpha, charlie].sort();
      expect(ids(await client().assistants.search({ metadata: tag, sortBy: "assistant_id", sortOrder: "asc" }))).toEqual(byId);
      expect(ids(await client().assistants.search({ metadata: tag, sortBy: "assistant_id", sortOrder: "desc" }))).toEqual([...byId].reverse());
      expect(ids(await client().assistants.search({ metadata: tag, sortBy: "graph_id", sortOrder: "asc" }))).toHaveLength(3);
      expect(await client().assistants.search({ metadata: tag, name: "Charlie", select: ["assistant_id", "name"] })).toEqual([{ assistant_id: charlie, name: "Charlie" }]);
      // Pages, with the official server's pagination headers.
      const page = await fixture.server.request("/assistants/search", { body: { metadata: tag, limit: 2, offset: 0 } });
      expect(ids(page.body as Array<{ assistant_id: string }>)).toEqual([charlie, alpha]);
      expect(page.headers.get("x-pagination-next")).toBe("2");
      expect(page.headers.get("x-pagination-total")).toBe("3");
      const last = await fixture.server.request("/assistants/search", { body: { metadata: tag, limit: 2, offset: 2 } });
      expect(ids(last.body as Array<{ assistant_id: string }>)).toEqual([bravo]);
      expect(last.headers.get("x-pagination-total")).toBe("3");
      expect(await client().assistants.count({ metadata: tag })).toBe(3);
      expect(await client().assistants.count({ metadata: tag, name: "a" })).toBe(3);
      expect(await client().assistants.count({ metadata: tag, name: "rav" })).toBe(1);
      expect(await client().assistants.count({ metadata: tag, graphId: "other" })).toBe(0);
      // The system assistant is there too.
      expect(ids(await client().assistants.search({ graphId: "agent", metadata: { created_by: "system" } }))).toEqual([ASSISTANT_ID]);
    });

    it("deletes an assistant, keeping its threads, or with delete_threads deleting them with their runs and checkpoints", async () => {
      const kept = await client().assistants.create({ graphId: "agent" });
      const keptThread = await client().threads.create();
      await client().runs.wait(keptThread.thread_id, kept.assistant_id, { input: user("stay") });
      await client().assistants.delete(kept.assistant_id);
      await expect(client().assistants.get(kept.assistant_id)).rejects.toMatchObject({ status: 404 });
      expect((await client().threads.getState(keptThread.thread_id)).values).toMatchObject({ messages: expect.arrayContaining([expect.objectContaining({ content: "stay" })]) });
      // A run cannot use it any more.
      await expect(client().runs.wait(keptThread.thread_id, kept.assistant_id, { input: user("again") })).rejects.toMatchObject({ status: 404 });

      const gone = await client().assistants.create({ graphId: "agent" });
      const ranThread = await client().threads.create();
      await client().runs.wait(ranThread.thread_id, gone.assistant_id, { input: user("go") });
      const createdThread = await client().threads.create({ metadata: { assistant_id: gone.assistant_id } });
      // A thread the run itself creates.
      const createdByRun = randomUUID();
      await client().runs.wait(createdByRun, gone.assistant_id, { input: user("created"), ifNotExists: "create" });
      const other = await client().threads.create();
      await client().runs.wait(other.thread_id, "agent", { input: user("other") });
      expect((await client().threads.get(createdByRun)).metadata).toMatchObject({ assistant_id: gone.assistant_id, graph_id: "agent" });
      await client().assistants.delete(gone.assistant_id, { deleteThreads: true });
      for (const threadId of [ranThread.thread_id, createdThread.thread_id, createdByRun]) {
        await expect(client().threads.get(threadId)).rejects.toMatchObject({ status: 404 });
        expect(await fixture.server.deps.checkpointer.getTuple({ configurable: { thread_id: threadId, checkpoint_ns: "" } })).toBeUndefined();
        expect(await fixture.server.deps.storage.runs.listRuns(threadId, { limit: 10, offset: 0 })).toEqual([]);
      }
      expect((await client().threads.get(other.thread_id)).thread_id).toBe(other.thread_id);
      expect((await client().threads.get(keptThread.thread_id)).thread_id).toBe(keptThread.thread_id);
    });

    it("describes a created assistant's graph, schemas and subgraphs", async () => {
      const assistant = await client().assistants.create({ graphId: "agent" });
      const schemas = await client().assistants.getSchemas(assistant.assistant_id);
      expect(schemas.graph_id).toBe("agent");
      expect(Object.keys((schemas.config_schema as { properties: object }).properties)).toContain("system_prompt");
      const graph = await client().assistants.getGraph(assistant.assistant_id);
      expect(graph.nodes.map((node) => node.id)).toEqual(expect.arrayContaining(["__start__", "model", "__end__"]));
      expect(await client().assistants.getSubgraphs(assistant.assistant_id)).toEqual({});
    });

    it("keeps the system assistant as it is: it cannot be changed or deleted, and is found by id or graph id", async () => {
      for (const id of [ASSISTANT_ID, "agent"]) {
        const deleted = await fixture.server.request(`/assistants/${id}`, { method: "DELETE" });
        expect(deleted).toMatchObject({ status: 409, body: { detail: expect.stringContaining("system assistant") } });
        expect(await fixture.server.request(`/assistants/${id}`, { method: "PATCH", body: { name: "mine" } })).toMatchObject({ status: 409 });
      }
      expect(await client().assistants.get("agent")).toMatchObject({ assistant_id: ASSISTANT_ID, name: "agent", version: 1, metadata: { created_by: "system" } });
      expect((await client().assistants.getVersions(ASSISTANT_ID)).map((version) => version.version)).toEqual([1]);
      expect(await client().assistants.setLatest("agent", 1)).toMatchObject({ assistant_id: ASSISTANT_ID, version: 1 });
      await expect(client().assistants.setLatest("agent", 2)).rejects.toMatchObject({ status: 404 });
      await expect(client().assistants.create({ graphId: "agent", assistantId: ASSISTANT_ID })).rejects.toMatchObject({ status: 409 });
    });

    it("refuses bad bodies with a 4xx naming the problem, and creates or changes nothing", async () => {
      const tag = tagged();
      const assistant = await client().assistants.create({ graphId: "agent", metadata: tag, config: { configurable: { system_prompt: "Fine." } } });
      const before = await client().assistants.count();
      const refused: Array<[Record<string, unknown>, number, string]> = [
        [{ metadata: tag }, 422, "graph_id"],
        [{ graph_id: "agent", assistant_id: "not-a-uuid", metadata: tag }, 422, "assistant_id"],
        [{ graph_id: "agent", config: { configurable: { system_prompt: 5 } }, metadata: tag }, 422, "system_prompt"],
        [{ graph_id: "agent", context: { system_prompt: ["x"] }, metadata: tag }, 422, "system_prompt"],
        [{ graph_id: "agent", config: "none", metadata: tag }, 422, "config"],
        [{ graph_id: "agent", name: 5, metadata: tag }, 422, "name"],
        [{ graph_id: "agent", if_exists: "replace", metadata: tag }, 422, "if_exists"],
        [{ graph_id: "elsewhere", metadata: tag }, 404, "elsewhere"],
      ];
      for (const [body, status, named] of refused) {
        const response = await fixture.server.request("/assistants", { body });
        expect({ body, status: response.status, detail: (response.body as { detail: string }).detail }).toEqual({ body, status, detail: expect.stringContaining(named) });
      }
      expect(await client().assistants.count()).toBe(before);
      expect(await client().assistants.count({ metadata: tag })).toBe(1);
      const patch = await fixture.server.request(`/assistants/${assistant.assistant_id}`, { method: "PATCH", body: { config: { configurable: { system_prompt: 7 } } } });
      expect(patch).toMatchObject({ status: 422, body: { detail: expect.stringContaining("system_prompt") } });
      expect(await fixture.server.request(`/assistants/${assistant.assistant_id}`, { method: "PATCH", body: { graph_id: "elsewhere" } })).toMatchObject({ status: 404 });
      expect(await fixture.server.request("/assistants/search", { body: { select: ["secret"] } })).toMatchObject({ status: 422 });
      expect(await fixture.server.request("/assistants/search", { body: { sort_by: "owner" } })).toMatchObject({ status: 422 });
      expect((await client().assistants.getVersions(assistant.assistant_id)).map((version) => version.version)).toEqual([1]);
      expect(await client().assistants.get(assistant.assistant_id)).toEqual(assistant);
    });
  });

  describe("assistants with API keys", () => {
    const fixture = useStubAndServer(backend, { env: { API_KEYS: `alice:${ALICE},bob:${BOB}` } });
    const as = (key: string) => new Client({ apiUrl: fixture.server.baseUrl, apiKey: key, callerOptions: { maxRetries: 0 } });

    it("shows each owner only their own assistants and the system one", async () => {
      const alice = as(ALICE);
      const bob = as(BOB);
      const tag = { tag: randomUUID() };
      const mine = await alice.assistants.create({ graphId: "agent", metadata: tag, config: { configurable: { system_prompt: "Alice's prompt." } } });
      await bob.assistants.create({ graphId: "agent", metadata: tag });
      await expect(bob.assistants.get(mine.assistant_id)).rejects.toMatchObject({ status: 404 });
      await expect(bob.assistants.update(mine.assistant_id, { name: "taken" })).rejects.toMatchObject({ status: 404 });
      await expect(bob.assistants.delete(mine.assistant_id)).rejects.toMatchObject({ status: 404 });
      await expect(bob.assistants.getVersions(mine.assistant_id)).rejects.toMatchObject({ status: 404 });
      await expect(bob.assistants.setLatest(mine.assistant_id, 1)).rejects.toMatchObject({ status: 404 });
      await expect(bob.runs.wait(null, mine.assistant_id, { input: user("hi") })).rejects.toMatchObject({ status: 404 });
      // The id is taken all the same: as on the official server, a 409 even with do_nothing.
      await expect(bob.assistants.create({ graphId: "agent", assistantId: mine.assistant_id, ifExists: "do_nothing" })).rejects.toMatchObject({ status: 409 });
      const bobSees = (await bob.assistants.search({ metadata: tag })).map((assistant) => assistant.assistant_id);
      expect(bobSees).not.toContain(mine.assistant_id);
      expect(bobSees).toHaveLength(1);
      expect(await bob.assistants.count({ metadata: tag })).toBe(1);
      expect((await alice.assistants.search({ metadata: tag })).map((assistant) => assistant.assistant_id)).toEqual([mine.assistant_id]);
      for (const client of [alice, bob]) expect((await client.assistants.search({ graphId: "agent", limit: 100 })).map((assistant) => assistant.assistant_id)).toContain(ASSISTANT_ID);
      expect(await alice.assistants.get(mine.assistant_id)).toMatchObject({ version: 1 });
      await alice.runs.wait(null, mine.assistant_id, { input: user("hi") });
      expect(lastSystemPrompt(fixture.stub)).toBe("Alice's prompt.");
      await bob.runs.wait(null, "agent", { input: user("hi") });
      expect(lastSystemPrompt(fixture.stub)).toBe("You are a helpful assistant.");
    });

    it("deletes with delete_threads only the owner's threads", async () => {
      const alice = as(ALICE);
      const bob = as(BOB);
      const assistant = await alice.assistants.create({ graphId: "agent" });
      const alicesThread = await alice.threads.create({ metadata: { assistant_id: assistant.assistant_id } });
      // Bob's thread only names Alice's assistant in its metadata: it is not Alice's to delete.
      const bobsThread = await bob.threads.create({ metadata: { assistant_id: assistant.assistant_id } });
      await alice.assistants.delete(assistant.assistant_id, { deleteThreads: true });
      await expect(alice.threads.get(alicesThread.thread_id)).rejects.toMatchObject({ status: 404 });
      expect((await bob.threads.get(bobsThread.thread_id)).thread_id).toBe(bobsThread.thread_id);
    });
  });
});

const reachable = await postgresReachable();

describe.skipIf(!reachable)("two instances on one PostgreSQL database", () => {
  const schema = schemaName();
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  const servers: TestServer[] = [];
  let stub: OpenAiStub | undefined;
  afterAll(async () => {
    for (const server of servers) await server.close({ keepData: true });
    await stub?.close();
    await dropSchema(pool, schema);
    await pool.end();
  });

  it("see the same assistants and versions, and runs on either use the version in use", async () => {
    stub = await startOpenAiStub();
    const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema };
    const [a, b] = await Promise.all([startServer(stub, { env }), startServer(stub, { env })]);
    servers.push(a!, b!);
    const created = await a!.client.assistants.create({ graphId: "agent", name: "shared", config: { configurable: { system_prompt: "Shared prompt." } } });
    expect(await b!.client.assistants.get(created.assistant_id)).toEqual(created);
    await b!.client.runs.wait(null, created.assistant_id, { input: user("hi") });
    expect(lastSystemPrompt(stub)).toBe("Shared prompt.");
    const [first, second] = await Promise.all([
      a!.client.assistants.update(created.assistant_id, { metadata: { by: "a" } }),
      b!.client.assistants.update(created.assistant_id, { config: { configurable: { system_prompt: "Changed on B." } } }),
    ]);
    expect([first.version, second.version].sort()).toEqual([2, 3]);
    expect((await a!.client.assistants.getVersions(created.assistant_id)).map((version) => version.version)).toEqual([3, 2, 1]);
    await a!.client.runs.wait(null, created.assistant_id, { input: user("hi") });
    expect(lastSystemPrompt(stub)).toBe("Changed on B.");
    // One system assistant between them.
    expect((await b!.client.assistants.search({ metadata: { created_by: "system" } })).map((assistant) => assistant.assistant_id)).toEqual([ASSISTANT_ID]);
    await b!.client.assistants.delete(created.assistant_id);
    await expect(a!.client.assistants.get(created.assistant_id)).rejects.toMatchObject({ status: 404 });
  });
});
