/**
 * The official LangGraph server's own e2e tests (langgraphjs `libs/langgraph-api/tests/api.test.mts`),
 * the parts about runs and their streams, adapted to this server: the real
 * `@langchain/langgraph-sdk` Client, our graph "agent" (trim -> model) and the stub model.
 * Threads and their state are in official-threads-runs.test.ts.
 *
 * Adapted, and why:
 * - The official graph "agent" is agent -> tool -> agent, answering "begin", "tool_call__begin",
 *   "end"; ours is trim -> model, answering through the stub. Node names, message counts and
 *   streamed tokens follow our graph.
 * - The official graphs "error" (throws CustomError "Boo!") and "weather": ours fails the same way
 *   when the model provider fails (the stub answers HTTP 500), so the error tests use that.
 * - Multitasking: the official graph sleeps (input `sleep`) to keep a run busy; ours keeps it busy
 *   by holding the stub's reply, so no test races the clock.
 * - Checkpoint counts: the official server saves every step (durability "async"), ours one
 *   checkpoint per run by default (CHECKPOINT_DURABILITY=exit); tests comparing streamed
 *   checkpoints with the history ask for durability "sync".
 * Left out:
 * - "stream messages tuple" with streamSubgraphs and "get subgraphs", "human in the loop" inside
 *   subgraphs, "interrupt inside node": our agent has no subgraphs and calls no interrupt().
 * - "long running tasks" (the official "delay" graph), "dynamic graph", "generative ui", "custom
 *   routes", "runtime API", "shared state"/store, assistants and crons: not threads or runs, or
 *   graphs and features this server does not have; other helpers own assistants, crons and store.
 * - The `custom` stream mode: our agent writes no custom events (its acceptance with other modes
 *   is in api.test.ts).
 * - POST /runs/cancel, GET /threads/{id}/stream, runs.list `select`, Prefer: return=minimal:
 *   other helpers are adding them.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { RemoteGraph } from "@langchain/langgraph/remote";
import { beforeAll, describe, expect, it } from "vitest";
import { until } from "../support/until.js";
import type { OpenAiStub } from "../support/openai-stub.js";
import { type TestServer, testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";

type Message = { type: string; content: string; id?: string };
type AgentState = { messages: Message[] };
type Chunk = { event: string; data: unknown; id?: string };

async function gather<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe.each(await testBackends())("official runs e2e, adapted (%s)", (backend) => {
  const fixture = useStubAndServer(backend);
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;

  beforeAll(() => {
    ({ stub, server } = fixture);
    client = server.client;
  });

  const input = (content: string, id?: string) => ({ messages: [{ type: "human", content, ...(id ? { id } : {}) }] });
  const contents = (values: unknown) => ((values as AgentState).messages ?? []).map((message) => message.content);
  const runIdOf = (chunks: Chunk[]) => (chunks.find((chunk) => chunk.event === "metadata")?.data as { run_id: string } | undefined)?.run_id;
  /** A run's status once it has settled; throws (404) if the run is gone. */
  const settled = async (threadId: string, runId: string) => {
    let status = "pending";
    await until(async () => {
      status = (await client.runs.get(threadId, runId)).status;
      return status !== "pending" && status !== "running";
    });
    return status;
  };

  describe("runs", () => {
    it("list runs: all, by status, and a cancelled pending run is interrupted", async () => {
      const thread = await client.threads.create();
      await client.runs.wait(thread.thread_id, "agent", { input: input("foo") });
      const pendingRun = await client.runs.create(thread.thread_id, "agent", { input: input("bar"), afterSeconds: 30 });

      expect(await client.runs.list(thread.thread_id)).toHaveLength(2);
      expect((await client.runs.list(thread.thread_id, { status: "pending" })).map((run) => run.run_id)).toEqual([pendingRun.run_id]);

      // Newest first, a page at a time.
      const [newest, oldest] = await client.runs.list(thread.thread_id);
      expect(newest!.run_id).toBe(pendingRun.run_id);
      expect((await client.runs.list(thread.thread_id, { limit: 1, offset: 1 })).map((run) => run.run_id)).toEqual([oldest!.run_id]);

      await client.runs.cancel(thread.thread_id, pendingRun.run_id);
      expect((await client.runs.list(thread.thread_id, { status: "interrupted" })).map((run) => run.run_id)).toEqual([pendingRun.run_id]);
      expect(stub.requests).toHaveLength(1);
    });

    it("stream values: each state extends the last, the run succeeds, its steps are in the history", async () => {
      const thread = await client.threads.create();
      const chunks = await gather(client.runs.stream(thread.thread_id, "agent", { input: input("foo", "initial-message"), durability: "sync" }));

      let previousMessageIds: string[] = [];
      for (const chunk of chunks.filter((chunk) => chunk.event === "values")) {
        const messageIds = (chunk.data as AgentState).messages.map((message) => message.id!);
        expect(messageIds.slice(0, previousMessageIds.length)).toEqual(previousMessageIds);
        previousMessageIds = messageIds;
      }
      expect(previousMessageIds).toHaveLength(2);
      expect(previousMessageIds[0]).toBe("initial-message");
      expect(chunks.at(-1)?.event).toBe("values");
      expect(new Set(chunks.map((chunk) => chunk.event))).toEqual(new Set(["metadata", "values"]));

      const run = await client.runs.get(thread.thread_id, runIdOf(chunks)!);
      expect(run.status).toBe("success");
      expect((await client.threads.getHistory(thread.thread_id)).length).toBeGreaterThan(1);
    });

    it("wait error: a run over its recursion limit throws GraphRecursionError and the thread is in error", async () => {
      const thread = await client.threads.create();
      await expect(client.runs.wait(thread.thread_id, "agent", { input: input("foo"), config: { recursion_limit: 1 } })).rejects.toThrowError(/GraphRecursionError/);
      expect((await client.threads.get(thread.thread_id)).status).toBe("error");
    });

    it("wait: the final values, and the thread idle", async () => {
      const thread = await client.threads.create();
      const values = await client.runs.wait(thread.thread_id, "agent", { input: input("foo", "initial-message") });
      expect(contents(values)).toEqual(["foo", "You said: foo"]);
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    });

    it("stream updates: one per node, in order", async () => {
      const thread = await client.threads.create();
      const chunks = await gather(client.runs.stream(thread.thread_id, "agent", { input: input("foo"), streamMode: "updates" }));
      expect(chunks.filter((chunk) => chunk.event === "updates").map((chunk) => Object.keys(chunk.data as object)[0])).toEqual(["trim", "model"]);
      expect(chunks.at(-1)?.event).toBe("updates");
      expect(new Set(chunks.map((chunk) => chunk.event))).toEqual(new Set(["metadata", "updates"]));
      expect((await client.runs.get(thread.thread_id, runIdOf(chunks)!)).status).toBe("success");
    });

    it("stream events: chain and chat model events only", async () => {
      const thread = await client.threads.create();
      const chunks = await gather(client.runs.stream(thread.thread_id, "agent", { input: input("foo"), streamMode: "events" }));
      expect(new Set(chunks.map((chunk) => chunk.event))).toEqual(new Set(["metadata", "events"]));
      expect(new Set(chunks.filter((chunk) => chunk.event === "events").map((chunk) => (chunk.data as { event: string }).event))).toEqual(
        new Set(["on_chain_start", "on_chain_end", "on_chat_model_end", "on_chat_model_start", "on_chat_model_stream"]),
      );
    });

    it("stream messages: partials add up to the complete message, which comes last", async () => {
      const thread = await client.threads.create();
      stub.respondWith(() => "Tokens arrive one word at a time");
      const chunks = await gather(client.runs.stream(thread.thread_id, "agent", { input: input("foo", "initial-message"), streamMode: "messages" }));

      const contentById: Record<string, string> = {};
      let lastMessage: Message | undefined;
      for (const chunk of chunks) {
        if (chunk.event === "messages/partial") {
          const message = (chunk.data as Message[])[0]!;
          contentById[message.id!] = message.content;
        }
        if (chunk.event === "messages/complete") {
          const message = (chunk.data as Message[])[0]!;
          expect(message.content).not.toBeNull();
          if (message.type === "ai") expect(message.content).toBe(contentById[message.id!]);
          lastMessage = message;
        }
      }
      expect(lastMessage?.content).toBe("Tokens arrive one word at a time");
      expect(chunks.at(-1)?.event).toBe("messages/complete");
      expect(new Set(chunks.map((chunk) => chunk.event))).toEqual(new Set(["metadata", "messages/metadata", "messages/partial", "messages/complete"]));
      expect((await client.runs.get(thread.thread_id, runIdOf(chunks)!)).status).toBe("success");
    });

    it("stream messages tuple: one event per token", async () => {
      const thread = await client.threads.create();
      stub.respondWith(() => "Tokens arrive one word at a time");
      const chunks = await gather(client.runs.stream(thread.thread_id, "agent", { input: input("foo"), streamMode: "messages-tuple" }));
      const tokens = chunks.filter((chunk) => chunk.event === "messages").map((chunk) => (chunk.data as [Message, unknown])[0].content);
      expect(tokens.filter((token) => token !== "")).toEqual(["Tokens", " arrive", " one", " word", " at", " a", " time"]);
      expect(new Set(chunks.map((chunk) => chunk.event))).toEqual(new Set(["metadata", "messages"]));
      expect((await client.runs.get(thread.thread_id, runIdOf(chunks)!)).status).toBe("success");
    });

    it("stream mixed modes: messages and values together", async () => {
      const thread = await client.threads.create();
      const chunks = await gather(client.runs.stream(thread.thread_id, "agent", { input: input("foo"), streamMode: ["messages", "values"] }));
      expect(chunks.at(-1)?.event).toBe("messages/complete");
      expect(chunks.filter((chunk) => chunk.event === "error")).toHaveLength(0);
      expect(contents(chunks.filter((chunk) => chunk.event === "values").at(-1)?.data)).toEqual(["foo", "You said: foo"]);
      expect(new Set(chunks.map((chunk) => chunk.event))).toEqual(new Set(["metadata", "messages/metadata", "messages/partial", "messages/complete", "values"]));
      expect((await client.runs.get(thread.thread_id, runIdOf(chunks)!)).status).toBe("success");
    });

    it("tasks and checkpoints stream modes: each step's checkpoint, then its task starting and finishing", async () => {
      const thread = await client.threads.create();
      const chunks = await gather(client.runs.stream(thread.thread_id, "agent", { input: { messages: [{ role: "human", content: "input" }] }, streamMode: ["tasks", "checkpoints"] }));
      const human = { content: "input", type: "human" };
      const reply = { content: "You said: input", type: "ai" };
      expect(chunks).toMatchObject([
        { event: "metadata", data: { run_id: expect.any(String) } },
        { event: "checkpoints", data: { values: { messages: [] }, metadata: { source: "input", step: -1 }, next: ["__start__"] } },
        { event: "checkpoints", data: { values: { messages: [human] }, metadata: { source: "loop", step: 0 }, next: ["trim"] } },
        { event: "tasks", data: { name: "trim", input: { messages: [human] }, triggers: ["branch:to:trim"], interrupts: [] } },
        { event: "tasks", data: { name: "trim", interrupts: [] } },
        { event: "checkpoints", data: { values: { messages: [human] }, metadata: { source: "loop", step: 1 }, next: ["model"] } },
        { event: "tasks", data: { name: "model", input: { messages: [human] }, triggers: ["branch:to:model"], interrupts: [] } },
        { event: "tasks", data: { name: "model", result: { messages: [expect.objectContaining(reply)] }, interrupts: [] } },
        { event: "checkpoints", data: { values: { messages: [human, reply] }, metadata: { source: "loop", step: 2 }, next: [] } },
      ]);
      expect(chunks).toHaveLength(9);
    });

    it("stream debug checkpoints: the same checkpoints as the history", async () => {
      const thread = await client.threads.create();
      const payloads = (await gather(client.runs.stream(thread.thread_id, "agent", { input: { messages: [{ role: "human", content: "What's the weather in SF?" }] }, streamMode: "debug", durability: "sync" })))
        .filter((chunk) => chunk.event === "debug" && (chunk.data as { type: string }).type === "checkpoint")
        .map((chunk) => (chunk.data as { payload: { metadata?: { step?: number }; checkpoint: unknown; parent_checkpoint: unknown } }).payload);
      const history = (await client.threads.getHistory(thread.thread_id, { limit: payloads.length })).reverse();
      const shape = (state: { metadata?: { step?: unknown } | null; checkpoint: unknown; parent_checkpoint: unknown }) => ({
        step: state.metadata?.step,
        checkpoint: state.checkpoint,
        parent_checkpoint: state.parent_checkpoint,
      });
      expect(payloads.length).toBeGreaterThan(1);
      expect(payloads.map(shape)).toEqual(history.map(shape));
    });

    it("RemoteGraph streams values through the API, on a thread of its own", async () => {
      const thread = await client.threads.create();
      const graph = new RemoteGraph({ graphId: "agent", client });
      const chunks = await gather(
        await graph.stream({ messages: [{ type: "human", content: "foo", id: "initial-message" }] }, { streamMode: "values", configurable: { thread_id: thread.thread_id } }),
      );
      expect(chunks.at(0)).toMatchObject({ messages: [{ content: "foo" }] });
      expect(chunks.at(-1)).toMatchObject({ messages: [{ content: "foo" }, { content: "You said: foo" }] });
      expect(contents((await client.threads.getState(thread.thread_id)).values)).toEqual(["foo", "You said: foo"]);
    });

    it("non-existent graph id: wait and stream say no assistant was found", async () => {
      const thread = await client.threads.create();
      await expect(client.runs.wait(thread.thread_id, "non-existent", { input: input("foo") })).rejects.toThrow(/No assistant found for/);
      await expect(gather(client.runs.stream(thread.thread_id, "non-existent", { input: input("foo") }))).rejects.toThrow(/No assistant found for/);
      expect(await client.runs.list(thread.thread_id)).toHaveLength(0);
    });
  });

  describe("errors", () => {
    const fail = () => stub.inject({ kind: "status", status: 500, message: "Boo!" });

    it("stream: the last event is the error, with its name and message", async () => {
      const thread = await client.threads.create();
      fail();
      const chunks = await gather(client.runs.stream(thread.thread_id, "agent", { input: input("foo"), streamMode: ["debug", "events"] }));
      expect(chunks.at(-1)).toMatchObject({ event: "error", data: { error: "ModelProviderError", message: expect.stringContaining("Boo!") } });
    });

    it("create + join: the run ends in error", async () => {
      const thread = await client.threads.create();
      fail();
      const run = await client.runs.create(thread.thread_id, "agent", { input: input("foo") });
      await client.runs.join(thread.thread_id, run.run_id);
      expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("error");
    });

    it("create + stream join: the joined stream ends with the error", async () => {
      const thread = await client.threads.create();
      fail();
      const run = await client.runs.create(thread.thread_id, "agent", { input: input("foo") });
      const chunks = await gather(client.runs.joinStream(thread.thread_id, run.run_id));
      expect(chunks.at(-1)).toMatchObject({ event: "error", data: { error: "ModelProviderError", message: expect.stringContaining("Boo!") } });
      expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("error");
    });
  });

  describe("multitasking", () => {
    /** Starts a run whose model answers only when `answer` is called, and waits until it is running. */
    async function busyRun(threadId: string, content: string) {
      const answer = stub.holdNextReply();
      const run = await client.runs.create(threadId, "agent", { input: input(content) });
      await until(() => stub.requests.length > 0);
      return { run, answer };
    }

    it("reject: the second run is refused, the first succeeds", async () => {
      const thread = await client.threads.create();
      const { run, answer } = await busyRun(thread.thread_id, "foo");
      await expect(client.runs.create(thread.thread_id, "agent", { input: input("foo"), multitaskStrategy: "reject" })).rejects.toThrow();
      answer();
      expect(await settled(thread.thread_id, run.run_id)).toBe("success");
    });

    it("interrupt: the first run is interrupted, the second succeeds after the first's question", async () => {
      const thread = await client.threads.create();
      const first = await busyRun(thread.thread_id, "foo");
      const second = await client.runs.create(thread.thread_id, "agent", { input: input("bar"), multitaskStrategy: "interrupt" });
      expect(await settled(thread.thread_id, first.run.run_id)).toBe("interrupted");
      expect(await settled(thread.thread_id, second.run_id)).toBe("success");
      const state = await client.threads.getState(thread.thread_id);
      expect(contents(state.values)[0]).toBe("foo");
      expect(contents(state.values).at(-1)).toBe("You said: bar");
    });

    it("rollback: the first run is deleted, the state has only the second's messages", async () => {
      const thread = await client.threads.create();
      const first = await busyRun(thread.thread_id, "foo");
      const second = await client.runs.create(thread.thread_id, "agent", { input: input("bar"), multitaskStrategy: "rollback" });
      await expect(settled(thread.thread_id, first.run.run_id)).rejects.toThrow();
      expect(await settled(thread.thread_id, second.run_id)).toBe("success");
      expect(contents((await client.threads.getState(thread.thread_id)).values)).toEqual(["bar", "You said: bar"]);
    });

    it("enqueue: both succeed, one after the other", async () => {
      const thread = await client.threads.create();
      const first = await busyRun(thread.thread_id, "foo");
      const second = await client.runs.create(thread.thread_id, "agent", { input: input("bar"), multitaskStrategy: "enqueue" });
      first.answer();
      expect(await settled(thread.thread_id, first.run.run_id)).toBe("success");
      expect(await settled(thread.thread_id, second.run_id)).toBe("success");
      expect(contents((await client.threads.getState(thread.thread_id)).values)).toEqual(["foo", "You said: foo", "bar", "You said: bar"]);
    });
  });

  describe("run options", () => {
    it("resumable streams: joining from the start replays exactly what the creating stream got", async () => {
      const thread = await client.threads.create();
      const answer = stub.holdNextReply();
      let created: { run_id: string; thread_id?: string } | undefined;
      const source = gather(
        client.runs.stream(thread.thread_id, "agent", {
          input: input("input"),
          streamResumable: true,
          streamMode: ["values", "custom"],
          onRunCreated: (params) => void (created = params),
        }),
      );
      await until(() => created !== undefined && stub.requests.length > 0);
      const join = gather(client.runs.joinStream(thread.thread_id, created!.run_id, { lastEventId: "-1" }));
      answer();
      expect(await join).toEqual(await source);
    });

    it("on_completion: a stateless run's thread is deleted by default, kept with keep", async () => {
      // The SDK types onCompletion as "complete" | "continue"; the API (ours and the official server's) takes "delete" | "keep".
      const kept = await client.runs.create(null, "agent", { input: input("keep me"), onCompletion: "keep" as never });
      await client.runs.join(kept.thread_id, kept.run_id);
      expect(contents((await client.threads.getState(kept.thread_id)).values)).toEqual(["keep me", "You said: keep me"]);

      // Not joined through its thread: that may be gone by the time the join arrives.
      const dropped = await client.runs.create(null, "agent", { input: input("drop me") });
      await until(() => stub.requests.length === 2);
      await until(async () => (await client.threads.get(dropped.thread_id).catch((error: { status?: number }) => error)).status === 404);
    });

    it("if_not_exists: create makes the thread, the default refuses with 404", async () => {
      const threadId = crypto.randomUUID();
      await expect(client.runs.wait(threadId, "agent", { input: input("foo") })).rejects.toMatchObject({ status: 404 });
      const values = await client.runs.wait(threadId, "agent", { input: input("foo"), ifNotExists: "create" });
      expect(contents(values)).toEqual(["foo", "You said: foo"]);
      expect((await client.threads.get(threadId)).metadata).toMatchObject({ graph_id: "agent" });
    });

    it("metadata: a run keeps its metadata, and its checkpoints carry it", async () => {
      const thread = await client.threads.create();
      const run = await client.runs.create(thread.thread_id, "agent", { input: input("foo"), metadata: { purpose: "e2e" } });
      await client.runs.join(thread.thread_id, run.run_id);
      expect((await client.runs.get(thread.thread_id, run.run_id)).metadata).toMatchObject({ purpose: "e2e" });
      expect((await client.threads.getState(thread.thread_id)).metadata).toMatchObject({ purpose: "e2e", run_id: run.run_id });
    });

    it("delete a finished run; cancelling with wait returns once it has stopped", async () => {
      const thread = await client.threads.create();
      const { run_id } = await client.runs.create(thread.thread_id, "agent", { input: input("foo") });
      await client.runs.join(thread.thread_id, run_id);
      await client.runs.delete(thread.thread_id, run_id);
      await expect(client.runs.get(thread.thread_id, run_id)).rejects.toMatchObject({ status: 404 });

      stub.holdNextReply();
      const busy = await client.runs.create(thread.thread_id, "agent", { input: input("bar") });
      await until(() => stub.requests.length > 0);
      await client.runs.cancel(thread.thread_id, busy.run_id, true);
      expect((await client.runs.get(thread.thread_id, busy.run_id)).status).toBe("interrupted");
      await until(async () => (await client.threads.get(thread.thread_id)).status === "idle");
    });
  });
});
