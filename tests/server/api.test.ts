/**
 * The API as the official client sees it: `@langchain/langgraph-sdk`'s Client against createApp
 * on port 0, with the stub model behind the real ChatOpenAI client.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ASSISTANT_ID } from "../../src/server/assistants.js";
import { until } from "../support/until.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

describe.each(await testBackends())("on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    // The webhook test's receiver listens on 127.0.0.1.
    server = await startServer(stub, { backend, env: { WEBHOOK_ALLOW_PRIVATE: "true" } });
    client = server.client;
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });
  beforeEach(() => stub.reset());

  type WireMessage = { type: string; content: unknown; id?: string };
  const user = (content: string) => ({ messages: [{ role: "user", content }] });
  const messagesOf = (values: unknown) => ((values as { messages?: WireMessage[] }).messages ?? []).map((message) => [message.type, message.content]);
  const say = (threadId: string, content: string, extra: Record<string, unknown> = {}) =>
    client.runs.wait(threadId, "agent", { input: user(content), ...extra });

  describe("meta", () => {
    it("serves /ok, /info, /openapi.json and /docs", async () => {
      expect(await server.request("/ok")).toMatchObject({ status: 200, body: { ok: true } });
      const info = await server.request("/info");
      expect(info.body).toMatchObject({ version: "0.1.0", flags: { assistants: true } });
      const openapi = (await server.request("/openapi.json")).body as { openapi: string; paths: Record<string, unknown> };
      expect(openapi.openapi).toBe("3.1.0");
      expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(["/threads", "/threads/{thread_id}/runs/stream", "/runs/wait"]));
      const docs = await fetch(`${server.baseUrl}/docs`);
      expect(docs.headers.get("content-type")).toMatch(/text\/html/);
      expect(await docs.text()).toContain('<script src="/docs/assets/init.js">');
    });
  });

  describe("assistants", () => {
    it("has one system assistant with the official server's id, found by id or graph id", async () => {
      expect(ASSISTANT_ID).toBe("fe096781-5601-53d2-b2f6-0d3403f7e9ca");
      const found = await client.assistants.search({ graphId: "agent" });
      expect(found.map((assistant) => assistant.assistant_id)).toEqual([ASSISTANT_ID]);
      expect(await client.assistants.search({ graphId: "other" })).toEqual([]);
      expect((await client.assistants.get("agent")).assistant_id).toBe(ASSISTANT_ID);
      expect((await client.assistants.get(ASSISTANT_ID)).graph_id).toBe("agent");
      await expect(client.assistants.get("nobody")).rejects.toMatchObject({ status: 404 });
    });

    it("describes the graph, its schemas and subgraphs", async () => {
      const graph = await client.assistants.getGraph("agent", { xray: true });
      // The tools path serves runs bound to a document collection, summarize those in summary memory mode.
      expect(graph.nodes.map((node) => node.id)).toEqual(["__start__", "trim", "summarize", "model", "tools", "__end__"]);
      const schemas = await client.assistants.getSchemas(ASSISTANT_ID);
      expect(schemas.graph_id).toBe("agent");
      expect(Object.keys((schemas.state_schema as { properties: object }).properties)).toContain("messages");
      expect(Object.keys((schemas.config_schema as { properties: object }).properties)).toContain("system_prompt");
      expect(await client.assistants.getSubgraphs("agent")).toEqual({});
    });
  });

  describe("threads", () => {
    it("creates, gets, patches, searches, counts, copies and deletes", async () => {
      const tag = crypto.randomUUID();
      const first = await client.threads.create({ metadata: { tag, title: "first" } });
      const second = await client.threads.create({ metadata: { tag, title: "second" }, graphId: "agent" });
      expect(first.status).toBe("idle");
      expect(await client.threads.get(first.thread_id)).toMatchObject({ thread_id: first.thread_id, metadata: { tag, title: "first" } });

      const patched = await client.threads.update(first.thread_id, { metadata: { title: "renamed", pinned: true } });
      expect(patched.metadata).toEqual({ tag, title: "renamed", pinned: true });

      const newestFirst = await client.threads.search({ metadata: { tag } });
      expect(newestFirst.map((thread) => thread.thread_id)).toEqual([second.thread_id, first.thread_id]);
      const oldestFirst = await client.threads.search({ metadata: { tag }, sortBy: "created_at", sortOrder: "asc", limit: 1 });
      expect(oldestFirst.map((thread) => thread.thread_id)).toEqual([first.thread_id]);
      expect((await client.threads.search({ metadata: { tag, pinned: true } })).map((thread) => thread.thread_id)).toEqual([first.thread_id]);
      expect(await client.threads.count({ metadata: { tag } })).toBe(2);
      expect(await client.threads.count({ metadata: { tag }, status: "busy" })).toBe(0);

      await say(first.thread_id, "My name is Ada");
      const copy = await client.threads.copy(first.thread_id);
      expect(copy.thread_id).not.toBe(first.thread_id);
      expect(messagesOf((await client.threads.getState(copy.thread_id)).values)).toEqual([
        ["human", "My name is Ada"],
        ["ai", "Nice to meet you, Ada!"],
      ]);
      // The copy is independent: it continues on its own.
      await say(copy.thread_id, "What is my name?");
      expect(messagesOf((await client.threads.getState(first.thread_id)).values)).toHaveLength(2);

      await client.threads.delete(first.thread_id);
      await expect(client.threads.get(first.thread_id)).rejects.toMatchObject({ status: 404 });
      await expect(client.threads.getState(first.thread_id)).rejects.toMatchObject({ status: 404 });
      expect(await client.threads.count({ metadata: { tag } })).toBe(2);
    });

    it("returns thread values with the messages, and 409 for a duplicate id", async () => {
      const thread = await client.threads.create();
      await say(thread.thread_id, "hello");
      const found = await client.threads.get(thread.thread_id);
      expect(messagesOf(found.values)).toEqual([
        ["human", "hello"],
        ["ai", "You said: hello"],
      ]);
      expect(found.metadata).toMatchObject({ graph_id: "agent", assistant_id: ASSISTANT_ID });
      await expect(client.threads.create({ threadId: thread.thread_id })).rejects.toMatchObject({ status: 409 });
      expect((await client.threads.create({ threadId: thread.thread_id, ifExists: "do_nothing" })).thread_id).toBe(thread.thread_id);
    });
  });

  describe("runs", () => {
    it("remembers across runs on a thread, not across threads", async () => {
      const alice = await client.threads.create();
      const bob = await client.threads.create();
      expect(messagesOf(await say(alice.thread_id, "Hi, my name is Ada")).at(-1)).toEqual(["ai", "Nice to meet you, Ada!"]);
      expect(messagesOf(await say(alice.thread_id, "What is my name?")).at(-1)).toEqual(["ai", "Your name is Ada."]);
      expect(messagesOf(await say(bob.thread_id, "What is my name?")).at(-1)).toEqual(["ai", "I don't know your name."]);

      const listed = await client.runs.list(alice.thread_id);
      expect(listed).toHaveLength(2);
      expect(listed.every((run) => run.status === "success" && run.assistant_id === ASSISTANT_ID)).toBe(true);
      expect(await client.runs.get(alice.thread_id, listed[0]!.run_id)).toMatchObject({ run_id: listed[0]!.run_id, status: "success" });
    });

    it("passes config and context to the model: system prompt and its variables", async () => {
      const thread = await client.threads.create();
      await client.runs.wait(thread.thread_id, "agent", {
        input: user("Which star is closest?"),
        config: { configurable: { system_prompt: "You are an expert in {topic}." } },
        context: { topic: "astronomy" },
      });
      expect(stub.requests[0]?.body.messages[0]).toEqual({ role: "system", content: "You are an expert in astronomy." });
    });

    it("keeps history newest first, each state pointing at its parent", async () => {
      const thread = await client.threads.create();
      await say(thread.thread_id, "one");
      await say(thread.thread_id, "two");
      const history = await client.threads.getHistory(thread.thread_id, { limit: 100 });
      // One checkpoint per run (CHECKPOINT_DURABILITY=exit).
      expect(history).toHaveLength(2);
      for (const [index, state] of history.entries()) {
        const older = history[index + 1];
        if (older) {
          expect(state.parent_checkpoint?.checkpoint_id).toBe(older.checkpoint.checkpoint_id);
          expect(state.checkpoint.checkpoint_id! > older.checkpoint.checkpoint_id!).toBe(true);
        }
      }
      expect(messagesOf(history[0]!.values)).toHaveLength(4);
      const limited = await client.threads.getHistory(thread.thread_id, { limit: 2 });
      expect(limited.map((state) => state.checkpoint.checkpoint_id)).toEqual(history.slice(0, 2).map((state) => state.checkpoint.checkpoint_id));
      const before = await client.threads.getHistory(thread.thread_id, { limit: 1, before: { configurable: { checkpoint_id: history[0]!.checkpoint.checkpoint_id } } });
      expect(before[0]?.checkpoint.checkpoint_id).toBe(history[1]!.checkpoint.checkpoint_id);
      const atCheckpoint = await client.threads.getState(thread.thread_id, history[1]!.checkpoint.checkpoint_id!);
      expect(atCheckpoint.checkpoint.checkpoint_id).toBe(history[1]!.checkpoint.checkpoint_id);
    });

    it("gives only the fields a history call selects: a long chat's checkpoint tree without its values", async () => {
      const thread = await client.threads.create();
      await say(thread.thread_id, "one");
      await say(thread.thread_id, "two");
      const full = await client.threads.getHistory(thread.thread_id, { limit: 100 });
      const tree = await server.request(`/threads/${thread.thread_id}/history`, { body: { limit: 100, select: ["checkpoint_id", "parent_checkpoint_id"] } });
      expect(tree).toMatchObject({ status: 200 });
      expect(tree.body).toEqual(full.map((state) => ({ checkpoint_id: state.checkpoint.checkpoint_id, parent_checkpoint_id: state.parent_checkpoint?.checkpoint_id ?? null })));
      const paged = await server.request(`/threads/${thread.thread_id}/history`, { body: { limit: 1, before: full[0]!.checkpoint.checkpoint_id, select: ["values", "checkpoint_id"] } });
      expect(paged.body).toEqual([{ values: full[1]!.values, checkpoint_id: full[1]!.checkpoint.checkpoint_id }]);
      expect((await server.request(`/threads/${thread.thread_id}/history`, { body: { select: ["no_such_field"] } })).status).toBe(422);
    });

    it("forks from an earlier checkpoint, and the next run continues the fork", async () => {
      const thread = await client.threads.create();
      await say(thread.thread_id, "My name is Ada");
      await say(thread.thread_id, "My name is Grace");
      // The checkpoint right after the first turn: two messages, nothing pending.
      const history = await client.threads.getHistory(thread.thread_id, { limit: 100 });
      const afterFirstTurn = history.find((state) => messagesOf(state.values).length === 2 && state.next.length === 0)!;
      expect(afterFirstTurn).toBeDefined();

      const forked = await client.runs.wait(thread.thread_id, "agent", {
        input: user("My name is Linus"),
        checkpointId: afterFirstTurn.checkpoint.checkpoint_id!,
      });
      expect(messagesOf(forked).map(([, content]) => content)).toEqual(["My name is Ada", "Nice to meet you, Ada!", "My name is Linus", "Nice to meet you, Linus!"]);

      const next = await say(thread.thread_id, "What is my name?");
      expect(messagesOf(next).map(([, content]) => content)).toEqual([
        "My name is Ada",
        "Nice to meet you, Ada!",
        "My name is Linus",
        "Nice to meet you, Linus!",
        "What is my name?",
        "Your name is Linus.",
      ]);
      // A checkpoint that does not exist is a 404, not a run on an empty thread.
      await expect(client.runs.wait(thread.thread_id, "agent", { input: user("x"), checkpointId: crypto.randomUUID() })).rejects.toMatchObject({ status: 404 });
      // The old branch is still browsable.
      const oldBranch = await client.threads.getState(thread.thread_id, history[0]!.checkpoint.checkpoint_id!);
      expect(messagesOf(oldBranch.values).map(([, content]) => content)).toContain("My name is Grace");
    });

    it("seeds a conversation with updateState on a thread that never ran", async () => {
      const thread = await client.threads.create();
      await client.threads.updateState(thread.thread_id, {
        values: {
          messages: [
            { type: "human", content: "My name is Hedy" },
            { type: "ai", content: "Hello Hedy." },
          ],
        },
      });
      const state = await client.threads.getState(thread.thread_id);
      expect(state.next).toEqual([]);
      expect(messagesOf(state.values)).toHaveLength(2);
      const result = await say(thread.thread_id, "What is my name?");
      expect(messagesOf(result).at(-1)).toEqual(["ai", "Your name is Hedy."]);
      expect(stub.requests[0]?.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "My name is Hedy", "Hello Hedy.", "What is my name?"]);
    });

    it("runs statelessly and leaves no thread behind", async () => {
      const before = await client.threads.count();
      const values = await client.runs.wait(null, "agent", { input: user("My name is Alan") });
      expect(messagesOf(values).at(-1)).toEqual(["ai", "Nice to meet you, Alan!"]);
      const streamed: string[] = [];
      for await (const part of client.runs.stream(null, "agent", { input: user("hello"), streamMode: "values" })) streamed.push(part.event);
      expect(streamed[0]).toBe("metadata");
      expect(streamed).toContain("values");
      expect(await client.threads.count()).toBe(before);
    });

    it("reports a model failure, keeps the thread as it was, and works again afterwards", async () => {
      const thread = await client.threads.create();
      await say(thread.thread_id, "My name is Ada");
      stub.inject({ kind: "status", status: 500, message: "upstream exploded" });
      await expect(say(thread.thread_id, "This must not stick")).rejects.toThrow(/ModelProviderError.*HTTP 500.*upstream exploded/);
      expect((await client.threads.get(thread.thread_id)).status).toBe("error");
      expect(messagesOf((await client.threads.getState(thread.thread_id)).values)).toHaveLength(2);
      const [failed] = await client.runs.list(thread.thread_id);
      expect(failed?.status).toBe("error");

      stub.inject({ kind: "status", status: 500 });
      const events: Array<{ event: string; data: unknown }> = [];
      for await (const part of client.runs.stream(thread.thread_id, "agent", { input: user("again"), streamMode: "values" })) events.push(part);
      expect(events.at(-1)).toMatchObject({ event: "error", data: { error: "ModelProviderError" } });

      expect(messagesOf(await say(thread.thread_id, "What is my name?")).at(-1)).toEqual(["ai", "Your name is Ada."]);
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    });
  });

  describe("streaming", () => {
    async function collect(
      streamMode: Parameters<Client["runs"]["stream"]>[2] extends infer P ? (P extends { streamMode?: infer M } ? M : never) : never,
      extra: { durability?: "exit" | "async" | "sync" } = {},
    ) {
      const thread = await client.threads.create();
      stub.respondWith(() => "Tokens arrive one word at a time");
      const events: Array<{ event: string; data: unknown }> = [];
      for await (const part of client.runs.stream(thread.thread_id, "agent", { input: user("stream"), streamMode, ...extra })) events.push(part);
      return { thread, events, names: events.map((part) => part.event) };
    }

    it("starts with metadata naming the run and thread", async () => {
      const { thread, events } = await collect("values");
      expect(events[0]).toMatchObject({ event: "metadata", data: { thread_id: thread.thread_id } });
      const runId = (events[0]!.data as { run_id: string }).run_id;
      expect((await client.runs.get(thread.thread_id, runId)).status).toBe("success");
    });

    it("streams values: the state after each step, ending with the reply", async () => {
      const { names, events } = await collect("values");
      expect(names.filter((name) => name === "values").length).toBeGreaterThanOrEqual(2);
      expect(messagesOf(events.at(-1)!.data).at(-1)).toEqual(["ai", "Tokens arrive one word at a time"]);
    });

    it("streams updates per node", async () => {
      const { events } = await collect("updates");
      const nodes = events.filter((part) => part.event === "updates").map((part) => Object.keys(part.data as object)[0]);
      expect(nodes).toEqual(["trim", "model"]);
    });

    it("streams messages-tuple token by token with metadata", async () => {
      const { events } = await collect("messages-tuple");
      const tuples = events.filter((part) => part.event === "messages").map((part) => part.data as [{ content: string }, { langgraph_node: string }]);
      expect(tuples.length).toBeGreaterThan(2);
      expect(tuples.map(([chunk]) => chunk.content).join("")).toBe("Tokens arrive one word at a time");
      expect(tuples.every(([, metadata]) => metadata.langgraph_node === "model")).toBe(true);
    });

    it("streams legacy messages: metadata, growing partials, then complete messages", async () => {
      const { events } = await collect("messages");
      const names = events.map((part) => part.event);
      expect(names).toContain("messages/metadata");
      const partials = events.filter((part) => part.event === "messages/partial").map((part) => (part.data as Array<{ content: string }>)[0]!.content);
      expect(partials.length).toBeGreaterThan(2);
      expect(partials.at(-1)).toBe("Tokens arrive one word at a time");
      expect(partials[1]!.length).toBeLessThan(partials.at(-1)!.length);
      // As the official server does, every message of the state is completed once: the input, then the reply.
      const complete = events.filter((part) => part.event === "messages/complete").flatMap((part) => part.data as Array<{ type: string; content: string }>);
      expect(complete.map((message) => [message.type, message.content])).toEqual([
        ["human", "stream"],
        ["ai", "Tokens arrive one word at a time"],
      ]);
    });

    it("streams debug and custom modes together, debug checkpoints in the API's shape", async () => {
      // Durability "async" persists every step, so each streamed checkpoint has an id.
      const { names, events } = await collect(["debug", "custom", "updates"], { durability: "async" });
      expect(names).toContain("debug");
      expect(names).toContain("updates");
      expect(names).not.toContain("values");
      const checkpoint = events.find((part) => part.event === "debug" && (part.data as { type: string }).type === "checkpoint")!.data as {
        payload: Record<string, unknown> & { config: { configurable: Record<string, unknown> } };
      };
      expect(checkpoint.payload).toHaveProperty("checkpoint.checkpoint_id");
      expect(checkpoint.payload).toHaveProperty("parent_config");
      expect(checkpoint.payload).not.toHaveProperty("parentConfig");
      expect(JSON.stringify(checkpoint.payload)).not.toContain("callbacks");
      expect(Object.keys(checkpoint.payload.config.configurable).some((key) => key.startsWith("__"))).toBe(false);
    });

    it("streams checkpoints with values, next, config and checkpoint references", async () => {
      const { thread, events } = await collect("checkpoints", { durability: "async" });
      const last = events.filter((part) => part.event === "checkpoints").at(-1)!.data as { values: unknown; next: string[]; checkpoint: { checkpoint_id: string } };
      expect(last.next).toEqual([]);
      expect(messagesOf(last.values).at(-1)).toEqual(["ai", "Tokens arrive one word at a time"]);
      expect(last.checkpoint.checkpoint_id).toBe((await client.threads.getState(thread.thread_id)).checkpoint.checkpoint_id);
      // Every step was persisted: input, trim, model, and the first loop checkpoint.
      expect(await client.threads.getHistory(thread.thread_id, { limit: 100 })).toHaveLength(4);
    });

    it("with the default exit durability, streams step snapshots that were never stored, without ids", async () => {
      const { thread, events } = await collect("checkpoints");
      const snapshots = events.filter((part) => part.event === "checkpoints").map((part) => part.data as { checkpoint: unknown; next: string[] });
      expect(snapshots.map((snapshot) => snapshot.next)).toEqual([["__start__"], ["trim"], ["model"], []]);
      expect(snapshots.every((snapshot) => snapshot.checkpoint === null)).toBe(true);
      expect(await client.threads.getHistory(thread.thread_id, { limit: 100 })).toHaveLength(1);
    });

    it("accepts the tools and events modes that useStream asks for", async () => {
      const { names } = await collect(["values", "tools"]);
      expect(names).toContain("values");
      const { events } = await collect(["events", "values"]);
      const kinds = events.filter((part) => part.event === "events").map((part) => (part.data as { event: string }).event);
      expect(kinds).toContain("on_chat_model_stream");
      expect(events.some((part) => part.event === "values")).toBe(true);
    });
  });

  describe("concurrency on one thread", () => {
    /**
     * Starts a slow run and waits until it is running: its model answers when the test calls
     * `answer` (or after the test), so that nothing races the clock on a busy machine.
     */
    async function slowRun(threadId: string, text: string) {
      const answer = stub.holdNextReply();
      const run = await client.runs.create(threadId, "agent", { input: user(text) });
      await until(() => stub.requests.length > 0);
      return { ...run, answer };
    }

    it("reject: the second run gets 409 and changes nothing", async () => {
      const thread = await client.threads.create();
      const first = await slowRun(thread.thread_id, "first");
      expect((await client.threads.get(thread.thread_id)).status).toBe("busy");
      await expect(client.runs.create(thread.thread_id, "agent", { input: user("second"), multitaskStrategy: "reject" })).rejects.toMatchObject({ status: 409 });
      first.answer();
      await client.runs.join(thread.thread_id, first.run_id);
      expect(messagesOf((await client.threads.getState(thread.thread_id)).values).map(([, content]) => content)).toEqual(["first", "You said: first"]);
      expect(await client.runs.list(thread.thread_id)).toHaveLength(1);
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    });

    it("enqueue: the second run waits its turn and sees the first's messages", async () => {
      const thread = await client.threads.create();
      const first = await slowRun(thread.thread_id, "first");
      const second = await client.runs.create(thread.thread_id, "agent", { input: user("second"), multitaskStrategy: "enqueue" });
      expect((await client.runs.get(thread.thread_id, second.run_id)).status).toBe("pending");
      first.answer();
      const values = await client.runs.join(thread.thread_id, second.run_id);
      expect(messagesOf(values).map(([, content]) => content)).toEqual(["first", "You said: first", "second", "You said: second"]);
      expect((await client.runs.get(thread.thread_id, first.run_id)).status).toBe("success");
    });

    it("interrupt: the first run is stopped, its question stays unanswered, the second answers", async () => {
      const thread = await client.threads.create();
      const first = await slowRun(thread.thread_id, "first");
      const values = await client.runs.wait(thread.thread_id, "agent", { input: user("second"), multitaskStrategy: "interrupt" });
      expect(messagesOf(values).map(([, content]) => content)).toEqual(["first", "second", "You said: second"]);
      expect(stub.requests.at(-1)!.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "first", "second"]);
      expect((await client.runs.get(thread.thread_id, first.run_id)).status).toBe("interrupted");
    });

    it("rollback: the first run is stopped and deleted", async () => {
      const thread = await client.threads.create();
      const first = await slowRun(thread.thread_id, "first");
      const values = await client.runs.wait(thread.thread_id, "agent", { input: user("second"), multitaskStrategy: "rollback" });
      expect(messagesOf(values).map(([, content]) => content)).toEqual(["second", "You said: second"]);
      await expect(client.runs.get(thread.thread_id, first.run_id)).rejects.toMatchObject({ status: 404 });
    });

    it("cancel stops the model call and keeps the user's message, not a reply; join and joinStream see runs", async () => {
      const thread = await client.threads.create();
      await say(thread.thread_id, "My name is Ada");
      stub.reset();
      const run = await slowRun(thread.thread_id, "This will be cancelled");
      await client.runs.cancel(thread.thread_id, run.run_id, true);
      expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("interrupted");
      const afterStop = await client.threads.getState(thread.thread_id);
      expect(messagesOf(afterStop.values)).toEqual([
        ["human", "My name is Ada"],
        ["ai", "Nice to meet you, Ada!"],
        ["human", "This will be cancelled"],
      ]);
      expect(afterStop.next).toEqual([]);
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
      // Cancelling a run that already ended changes nothing and is not an error (as officially).
      await client.runs.cancel(thread.thread_id, run.run_id);
      expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("interrupted");

      const background = await client.runs.create(thread.thread_id, "agent", { input: user("What is my name?"), streamMode: ["values", "messages-tuple"] });
      const joined: string[] = [];
      for await (const part of client.runs.joinStream(thread.thread_id, background.run_id)) joined.push(part.event);
      expect(joined[0]).toBe("metadata");
      expect(joined).toContain("values");
      expect(joined).toContain("messages");
      expect(messagesOf(await client.runs.join(thread.thread_id, background.run_id)).at(-1)).toEqual(["ai", "Your name is Ada."]);

      await client.runs.delete(thread.thread_id, background.run_id);
      await expect(client.runs.get(thread.thread_id, background.run_id)).rejects.toMatchObject({ status: 404 });
    });
  });

  describe("run options", () => {
    it("creates a missing thread with if_not_exists=create, and 404s without it", async () => {
      const threadId = crypto.randomUUID();
      await expect(say(threadId, "hello")).rejects.toMatchObject({ status: 404 });
      const values = await say(threadId, "hello", { ifNotExists: "create" });
      expect(messagesOf(values)).toHaveLength(2);
      expect((await client.threads.get(threadId)).metadata).toMatchObject({ graph_id: "agent" });
    });

    it("pauses with interrupt_before and resumes with a null input", async () => {
      const thread = await client.threads.create();
      await client.runs.wait(thread.thread_id, "agent", { input: user("pause before the model"), interruptBefore: ["model"] });
      expect(stub.requests).toHaveLength(0);
      expect((await client.threads.get(thread.thread_id)).status).toBe("interrupted");
      expect((await client.threads.getState(thread.thread_id)).next).toEqual(["model"]);

      const resumed = await client.runs.wait(thread.thread_id, "agent", { input: null });
      expect(messagesOf(resumed).at(-1)).toEqual(["ai", "You said: pause before the model"]);
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    });

    it("applies a command's update and goto", async () => {
      const thread = await client.threads.create();
      const values = await client.runs.wait(thread.thread_id, "agent", {
        command: { update: { messages: [{ type: "human", content: "My name is Barbara" }] }, goto: "trim" },
      });
      expect(messagesOf(values).at(-1)).toEqual(["ai", "Nice to meet you, Barbara!"]);
    });

    it("cancels the run when the streaming client disconnects with on_disconnect=cancel", async () => {
      const thread = await client.threads.create();
      stub.holdNextReply();
      const controller = new AbortController();
      let runId: string | undefined;
      const reading = (async () => {
        for await (const part of client.runs.stream(thread.thread_id, "agent", {
          input: user("I will hang up"),
          onDisconnect: "cancel",
          signal: controller.signal,
        })) {
          if (part.event === "metadata") runId = (part.data as { run_id: string }).run_id;
        }
      })();
      await until(() => runId !== undefined && stub.requests.length > 0);
      controller.abort();
      await reading.catch(() => undefined);
      await until(async () => (await client.runs.get(thread.thread_id, runId!)).status === "interrupted");
      // The run's record is written first, the thread's status just after it.
      await until(async () => (await client.threads.get(thread.thread_id)).status === "idle");
      // Like Stop in a chat window: the question stays, no half answer is stored.
      expect(messagesOf((await client.threads.getState(thread.thread_id)).values)).toEqual([["human", "I will hang up"]]);
    });

    it("resumes a joined stream after Last-Event-ID", async () => {
      const thread = await client.threads.create();
      const run = await client.runs.create(thread.thread_id, "agent", { input: user("resume me"), streamMode: "values" });
      const all: Array<{ id?: string; event: string }> = [];
      for await (const part of client.runs.joinStream(thread.thread_id, run.run_id)) all.push(part);
      expect(all.length).toBeGreaterThan(2);
      expect(all.every((part, index) => part.id === String(index))).toBe(true);
      const rest: string[] = [];
      for await (const part of client.runs.joinStream(thread.thread_id, run.run_id, { lastEventId: "0" })) rest.push(part.id!);
      expect(rest).toEqual(all.slice(1).map((part) => part.id));
    });

    it("lists runs by status, newest first", async () => {
      const thread = await client.threads.create();
      await say(thread.thread_id, "one");
      stub.inject({ kind: "status", status: 400 });
      await say(thread.thread_id, "two").catch(() => undefined);
      await say(thread.thread_id, "three");
      const runs = await client.runs.list(thread.thread_id);
      expect(runs.map((run) => run.status)).toEqual(["success", "error", "success"]);
      expect((await client.runs.list(thread.thread_id, { status: "error" })).map((run) => run.status)).toEqual(["error"]);
      expect(runs.map((run) => (run as unknown as { kwargs: { input: { messages: Array<{ content: string }> } } }).kwargs.input.messages[0]!.content)).toEqual(["three", "two", "one"]);
    });
  });

  describe("thread state", () => {
    it("creates a thread from supersteps and reads state at a checkpoint given as an object", async () => {
      const thread = await client.threads.create({
        supersteps: [{ updates: [{ values: { messages: [{ type: "human", content: "My name is Edsger" }, { type: "ai", content: "Hi." }] }, asNode: "model" }] }],
      });
      const state = await client.threads.getState(thread.thread_id);
      expect(messagesOf(state.values)).toEqual([
        ["human", "My name is Edsger"],
        ["ai", "Hi."],
      ]);
      const same = await client.threads.getState(thread.thread_id, { checkpoint_id: state.checkpoint.checkpoint_id!, checkpoint_ns: "", thread_id: thread.thread_id, checkpoint_map: null });
      expect(same.checkpoint.checkpoint_id).toBe(state.checkpoint.checkpoint_id);
      await expect(client.threads.getState(thread.thread_id, crypto.randomUUID())).rejects.toMatchObject({ status: 404 });
      expect(messagesOf(await say(thread.thread_id, "What is my name?")).at(-1)).toEqual(["ai", "Your name is Edsger."]);
    });

    it("never follows a thread_id inside a checkpoint reference to another thread", async () => {
      const mine = await client.threads.create();
      const other = await client.threads.create();
      const response = await server.request(`/threads/${mine.thread_id}/state`, {
        body: { values: { messages: [{ type: "human", content: "mine" }] }, checkpoint: { thread_id: other.thread_id } },
      });
      expect(response.status).toBe(200);
      expect(messagesOf((await client.threads.getState(mine.thread_id)).values)).toEqual([["human", "mine"]]);
      expect(messagesOf((await client.threads.getState(other.thread_id)).values)).toEqual([]);
    });

    it("refuses a state update while a run is in progress", async () => {
      const thread = await client.threads.create();
      const answer = stub.holdNextReply();
      const run = await client.runs.create(thread.thread_id, "agent", { input: user("busy") });
      await expect(client.threads.updateState(thread.thread_id, { values: { messages: [{ type: "human", content: "sneaky" }] } })).rejects.toMatchObject({
        status: 409,
      });
      answer();
      await client.runs.join(thread.thread_id, run.run_id);
      expect(messagesOf((await client.threads.getState(thread.thread_id)).values).map(([, content]) => content)).toEqual(["busy", "You said: busy"]);
    });
  });

    describe("edge cases", () => {
    it("ignores reserved configurable keys: they cannot redirect a run or switch off its undo", async () => {
      const thread = await client.threads.create();
      await say(thread.thread_id, "My name is Ada");
      stub.inject({ kind: "status", status: 500 });
      await expect(
        client.runs.wait(thread.thread_id, "agent", {
          input: user("this fails"),
          config: { configurable: { checkpoint_ns: "elsewhere", __pregel_read: true, __pregel_checkpointer: false, thread_id: "other" } },
        }),
      ).rejects.toThrow(/ModelProviderError/);
      expect(messagesOf((await client.threads.getState(thread.thread_id)).values)).toHaveLength(2);
    });

    it("keeps the message of a queued run stopped with interrupt, in queue order", async () => {
      const thread = await client.threads.create();
      const answer = stub.holdNextReply();
      const first = await client.runs.create(thread.thread_id, "agent", { input: user("first") });
      await until(() => stub.requests.length > 0);
      const second = await client.runs.create(thread.thread_id, "agent", { input: user("second"), multitaskStrategy: "enqueue" });
      const third = await client.runs.create(thread.thread_id, "agent", { input: user("third"), multitaskStrategy: "enqueue" });
      await client.runs.cancel(thread.thread_id, second.run_id, true);
      expect((await client.runs.get(thread.thread_id, second.run_id)).status).toBe("interrupted");
      answer();
      await client.runs.join(thread.thread_id, first.run_id);
      const values = await client.runs.join(thread.thread_id, third.run_id);
      expect(messagesOf(values).map(([, content]) => content)).toEqual(["first", "You said: first", "second", "third", "You said: third"]);
      await until(() => true);
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    });

    it("refuses to copy a thread while a run writes to it, and to write on an unknown checkpoint", async () => {
      const thread = await client.threads.create();
      const answer = stub.holdNextReply();
      const run = await client.runs.create(thread.thread_id, "agent", { input: user("busy") });
      await expect(client.threads.copy(thread.thread_id)).rejects.toMatchObject({ status: 409 });
      answer();
      await client.runs.join(thread.thread_id, run.run_id);
      await expect(
        client.threads.updateState(thread.thread_id, { values: { messages: [{ type: "human", content: "x" }] }, checkpointId: crypto.randomUUID() }),
      ).rejects.toMatchObject({ status: 404 });
      expect(messagesOf((await client.threads.getState(thread.thread_id)).values)).toHaveLength(2);
    });

    it("answers an update LangGraph rejects with 422, and creates no thread whose seeding fails", async () => {
      const thread = await client.threads.create();
      const removal = await server.request(`/threads/${thread.thread_id}/state`, { body: { values: { messages: [{ type: "remove", id: "no-such-message", content: "" }] } } });
      expect(removal.status).toBe(422);
      expect((removal.body as { detail: string }).detail).toMatch(/state update cannot be applied/);
      const before = await client.threads.count();
      const seeded = await server.request("/threads", { body: { supersteps: [{ updates: [{ values: { messages: [{ type: "human", content: "x" }] }, as_node: "no-such-node" }] }] } });
      expect(seeded.status).toBe(422);
      expect(await client.threads.count()).toBe(before);
    });

    it("leaves no thread behind when a stateless run or a batch is refused", async () => {
      const before = await client.threads.count();
      const huge = "word ".repeat(20_000);
      expect((await server.request("/runs/wait", { body: { assistant_id: "agent", input: user(huge) } })).status).toBe(400);
      expect((await server.request("/runs/wait", { body: { assistant_id: "nobody", input: user("hi") } })).status).toBe(404);
      const batch = await server.request("/runs/batch", { body: [{ assistant_id: "agent", input: user("fine"), on_completion: "keep" }, { assistant_id: "agent", input: user(huge) }] });
      expect(batch.status).toBe(400);
      expect(await client.threads.count()).toBe(before);
      expect(stub.requests).toHaveLength(0);
    });

    it("does not reveal another thread's running run", async () => {
      const busy = await client.threads.create();
      const mine = await client.threads.create();
      const answer = stub.holdNextReply();
      const run = await client.runs.create(busy.thread_id, "agent", { input: user("running") });
      await expect(client.runs.delete(mine.thread_id, run.run_id)).rejects.toMatchObject({ status: 404 });
      answer();
      await client.runs.join(busy.thread_id, run.run_id);
    });
  });

  describe("scheduling and webhooks", () => {
    it("starts a run after after_seconds, and posts the outcome to its webhook", async () => {
      const { createServer } = await import("node:http");
      const received: unknown[] = [];
      const receiver = createServer((request, response) => {
        let body = "";
        request.on("data", (chunk: Buffer) => (body += chunk.toString()));
        request.on("end", () => {
          received.push(JSON.parse(body));
          response.end();
        });
      }).listen(0, "127.0.0.1");
      await new Promise((resolve) => receiver.once("listening", resolve));
      const port = (receiver.address() as import("node:net").AddressInfo).port;
      try {
        const thread = await client.threads.create();
        const run = await client.runs.create(thread.thread_id, "agent", {
          input: user("later"),
          // Long enough that the checks just after cannot miss the wait, even on a busy machine.
          afterSeconds: 3,
          webhook: `http://127.0.0.1:${port}/hook`,
        });
        expect(stub.requests).toHaveLength(0);
        expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("pending");
        await until(() => received.length > 0);
        expect(received[0]).toMatchObject({ run_id: run.run_id, status: "success", error: null });
        expect(messagesOf((received[0] as { values: unknown }).values).at(-1)).toEqual(["ai", "You said: later"]);
      } finally {
        receiver.close();
      }
    });
  });

  describe("long waits and stateless extras", () => {
    it("keeps a long wait alive with leading newlines and still answers valid JSON", async () => {
      const thread = await client.threads.create();
      stub.inject({ kind: "delay", ms: 1300 });
      const response = await server.request(`/threads/${thread.thread_id}/runs/wait`, { body: { assistant_id: "agent", input: user("slow") } });
      expect(response.status).toBe(200);
      expect(messagesOf(response.body).at(-1)).toEqual(["ai", "You said: slow"]);
      const raw = await fetch(`${server.baseUrl}/threads/${thread.thread_id}/runs/wait`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ assistant_id: "agent", input: user("slow again") }),
      });
      // Padding, if a busy machine made this one slow too, is newlines only, before valid JSON.
      const text = await raw.text();
      expect(text).toMatch(/^\n*\{/);
      expect(messagesOf(JSON.parse(text)).at(-1)).toEqual(["ai", "You said: slow again"]);
    });

    it("creates stateless runs in a batch and joins a stateless run's stream", async () => {
      const created = (await server.request("/runs/batch", {
        body: [
          { assistant_id: "agent", input: user("one"), on_completion: "keep" },
          { assistant_id: "agent", input: user("two"), on_completion: "keep" },
        ],
      })) as { status: number; body: Array<{ run_id: string; thread_id: string }> };
      expect(created.status).toBe(200);
      expect(created.body).toHaveLength(2);
      const events: string[] = [];
      for await (const part of client.runs.joinStream(null, created.body[0]!.run_id)) events.push(part.event);
      expect(events).toEqual(expect.arrayContaining(["metadata", "values"]));
      const kept = await client.threads.getState(created.body[1]!.thread_id);
      await until(async () => messagesOf((await client.threads.getState(created.body[1]!.thread_id)).values).length === 2);
      expect(kept).toBeDefined();
    });
  });
});
