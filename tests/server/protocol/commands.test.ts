/**
 * The protocol's commands on raw HTTP (and the WebSocket's framing): what each answers, every
 * error code the protocol defines, and answering an interrupt with `input.respond`.
 */
import { AIMessage } from "@langchain/core/messages";
import { END, MessagesAnnotation, START, StateGraph, interrupt } from "@langchain/langgraph";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import type { Agent } from "../../../src/graph/agent.js";
import type { Storage } from "../../../src/storage/storage.js";
import { type OpenAiStub, startOpenAiStub } from "../../support/openai-stub.js";
import { type WireEvent, isRootTerminal, readRun, sendCommand } from "../../support/protocol-client.js";
import { type TestServer, startServer, testBackends } from "../../support/server.js";

/** A graph that asks before it answers: `interrupt()` in its only node. */
function approvalGraph(storage: Storage): Agent {
  return new StateGraph(MessagesAnnotation)
    .addNode("ask", async () => {
      const answer: unknown = interrupt({ question: "Proceed?" });
      return { messages: [new AIMessage(`You said: ${JSON.stringify(answer)}`)] };
    })
    .addEdge(START, "ask")
    .addEdge("ask", END)
    .compile({ checkpointer: storage.checkpointer }) as unknown as Agent;
}

const userInput = (content: string) => ({ messages: [{ role: "user", content }] });

/** An event with its data open to reading, as the tests below take events apart. */
type Event = WireEvent & { params: { data: any } };
/** The events of the run going on the thread, to its end. */
const readAll = async (...args: Parameters<typeof readRun>) => (await readRun(...args)) as Event[];

describe.each(await testBackends())("protocol commands on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let approvals: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend });
    approvals = await startServer(stub, { backend, agent: approvalGraph });
  });
  afterAll(async () => {
    await server?.close();
    await approvals?.close();
    await stub?.close();
  });

  /** Starts a run and reads its events to its end. */
  async function runTurn(target: TestServer, threadId: string, params: Record<string, unknown>, since = 0) {
    const started = await sendCommand(target.baseUrl, threadId, { id: 1, method: "run.start", params: { assistant_id: "agent", ...params } });
    expect(started.status).toBe(200);
    expect(started.body.type).toBe("success");
    const events = await readAll(target.baseUrl, threadId, { channels: ["lifecycle", "values", "input", "messages", "checkpoints", "updates"], since });
    return { started: started.body, events };
  }

  it("starts a run on a thread the client names, creating it, and answers with the run and how far the thread's events are", async () => {
    stub.respondWith(() => "Hello there");
    const threadId = randomUUID();
    const { started, events } = await runTurn(server, threadId, { input: userInput("hi") });
    expect(started).toMatchObject({ type: "success", id: 1, result: { run_id: expect.any(String) }, meta: { thread_id: threadId, applied_through_seq: expect.any(Number) } });
    expect(events[0]).toMatchObject({ method: "lifecycle", seq: 1, event_id: "1", params: { namespace: [], data: { event: "running" } } });
    expect(events.at(-1)).toMatchObject({ method: "lifecycle", params: { namespace: [], data: { event: "completed" } } });
    const text = events.filter((event) => event.method === "messages" && event.params.data.event === "content-block-delta").map((event) => event.params.data.delta.text).join("");
    expect(text).toBe("Hello there");
    // Each step: its checkpoint, then its values; the run's reply is in the last values.
    const last = events.filter((event) => event.method === "values").at(-1) as Event;
    expect(last.params.data.messages.map((message: { type: string }) => message.type)).toEqual(["human", "ai"]);
    const before = events[events.indexOf(last) - 1] as Event;
    expect(before.method).toBe("checkpoints");
    expect((await server.client.threads.get(threadId)).thread_id).toBe(threadId);
  });

  it("answers state.get, state.listCheckpoints, state.fork and agent.getTree", async () => {
    stub.respondWith(() => "reply");
    const threadId = randomUUID();
    const { started } = await runTurn(server, threadId, { input: userInput("one") });
    const state = await sendCommand(server.baseUrl, threadId, { id: 2, method: "state.get", params: { namespace: [], keys: ["messages"] } });
    expect(state.body.type).toBe("success");
    expect(Object.keys(state.body.result.values)).toEqual(["messages"]);
    expect(state.body.result.values.messages.map((message: { content: unknown }) => message.content)).toEqual(["one", "reply"]);
    expect(state.body.result.checkpoint.id).toEqual(expect.any(String));

    const listed = await sendCommand(server.baseUrl, threadId, { id: 3, method: "state.listCheckpoints", params: { limit: 5 } });
    expect(listed.body.type).toBe("success");
    const checkpoints = listed.body.result.checkpoints as Array<{ id: string; step: number; timestamp: string }>;
    expect(checkpoints[0]!.id).toBe(state.body.result.checkpoint.id);
    expect(checkpoints.every((checkpoint) => typeof checkpoint.step === "number" && !Number.isNaN(Date.parse(checkpoint.timestamp)))).toBe(true);

    // Fork from the checkpoint before the reply: a new branch with a new question.
    const first = checkpoints.at(-1) as { id: string };
    const forked = await sendCommand(server.baseUrl, threadId, { id: 4, method: "state.fork", params: { checkpoint_id: first.id, input: userInput("other") } });
    expect(forked.body).toMatchObject({ type: "success", result: { run_id: expect.any(String), thread_id: threadId } });
    await readAll(server.baseUrl, threadId, { channels: ["lifecycle"], since: state.body.meta.applied_through_seq });
    const after = await sendCommand(server.baseUrl, threadId, { id: 5, method: "state.get", params: {} });
    expect(after.body.result.values.messages.map((message: { content: unknown }) => (typeof message.content === "string" ? message.content : "reply"))).toContain("other");

    const tree = await sendCommand(server.baseUrl, threadId, { id: 6, method: "agent.getTree", params: { run_id: started.result.run_id } });
    expect(tree.body.type).toBe("success");
    expect(tree.body.result.tree).toMatchObject({ namespace: [], status: "completed", graph_name: "agent" });
    expect(tree.body.result.tree.children.some((child: { namespace: string[] }) => child.namespace[0]!.startsWith("model:"))).toBe(true);
  });

  it("forks with run.start when its config names a checkpoint (the SDK's forkFrom), keeping the old branch", async () => {
    stub.respondWith(() => "reply");
    const threadId = randomUUID();
    await runTurn(server, threadId, { input: userInput("first question") });
    const afterFirst = (await sendCommand(server.baseUrl, threadId, { id: 1, method: "state.get" })).body;
    await runTurn(server, threadId, { input: userInput("second question") }, afterFirst.meta.applied_through_seq);
    const since = (await sendCommand(server.baseUrl, threadId, { id: 2, method: "state.get" })).body.meta.applied_through_seq;
    // The second question asked again differently, from the checkpoint after the first turn.
    await runTurn(server, threadId, { input: userInput("second question, reworded"), config: { configurable: { checkpoint_id: afterFirst.result.checkpoint.id } } }, since);
    const state = await sendCommand(server.baseUrl, threadId, { id: 3, method: "state.get" });
    expect(state.body.result.values.messages.map((message: { content: string }) => message.content)).toEqual(["first question", "reply", "second question, reworded", "reply"]);
    // The first branch is still in the history.
    const all = await server.client.threads.getHistory(threadId, { limit: 50 });
    expect(all.some((entry) => JSON.stringify(entry.values).includes('"second question"'))).toBe(true);
  });

  it("refuses a malformed envelope or filter with 400, and a GET without an upgrade with 426", async () => {
    const threadId = randomUUID();
    for (const body of ["{not json", { method: "state.get" }, { id: -1, method: "state.get" }, { id: 1.5, method: "state.get" }, { id: 1 }, [1, 2]]) {
      const answer = await sendCommand(server.baseUrl, threadId, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.detail).toEqual(expect.any(String));
    }
    for (const filter of [{ channels: [] }, { channels: ["nonsense"] }, { channels: ["values"], extra: 1 }, { channels: ["values"], since: -1 }]) {
      const response = await fetch(`${server.baseUrl}/threads/${threadId}/stream/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(filter) });
      expect(response.status, JSON.stringify(filter)).toBe(400);
      expect(((await response.json()) as { detail: string }).detail).toEqual(expect.any(String));
    }
    const get = await fetch(`${server.baseUrl}/threads/${threadId}/stream/events`);
    expect(get.status).toBe(426);
    expect(((await get.json()) as { detail: string }).detail).toMatch(/websocket/i);
    // A thread id that is not a UUID is refused like everywhere else in the API.
    expect((await sendCommand(server.baseUrl, "not-a-uuid", { id: 1, method: "state.get" })).status).toBe(422);
  });

  it("answers each protocol error with its code, at HTTP 200", async () => {
    stub.respondWith(() => "fine");
    const threadId = randomUUID();
    await runTurn(server, threadId, { input: userInput("hi") });
    const expectError = async (command: Record<string, unknown>, code: string, message: RegExp) => {
      const answer = await sendCommand(server.baseUrl, threadId, { id: 9, ...command });
      expect(answer.status, JSON.stringify(command)).toBe(200);
      expect(answer.body, JSON.stringify(command)).toMatchObject({ type: "error", id: 9, error: code });
      expect(answer.body.message).toMatch(message);
    };
    await expectError({ method: "run.launch" }, "unknown_command", /run\.launch/);
    await expectError({ method: "run.start", params: { input: userInput("x") } }, "invalid_argument", /assistant_id/);
    await expectError({ method: "run.start", params: { assistant_id: "agent", input: 42 } }, "invalid_argument", /input/);
    await expectError({ method: "run.start", params: { assistant_id: "agent", input: userInput("x"), config: { configurable: { thread_id: randomUUID() } } } }, "permission_denied", /another|names thread/);
    await expectError({ method: "input.respond", params: { interrupt_id: "nope", response: 1 } }, "no_such_run", /waits for input/);
    await expectError({ method: "input.respond", params: {} }, "invalid_argument", /interrupt_id/);
    await expectError({ method: "state.get", params: { namespace: ["elsewhere"] } }, "no_such_namespace", /elsewhere/);
    await expectError({ method: "state.fork", params: { checkpoint_id: randomUUID() } }, "no_such_checkpoint", /checkpoint/);
    await expectError({ method: "state.listCheckpoints", params: { before: randomUUID() } }, "no_such_checkpoint", /checkpoint/);
    await expectError({ method: "agent.getTree", params: { run_id: randomUUID() } }, "no_such_run", /run/);
    await expectError({ method: "subscription.unsubscribe", params: { subscription_id: "x" } }, "no_such_subscription", /subscription/);
    await expectError({ method: "subscription.subscribe", params: { channels: ["values"] } }, "not_supported", /stream\/events/);
    await expectError({ method: "input.inject", params: { namespace: [], message: { role: "user", content: "hi" } } }, "not_supported", /run\.start/);
    // An unexpected failure inside the server: the protocol's catch-all, not a crash.
    const spy = vi.spyOn(server.deps.agent, "getState").mockRejectedValueOnce(new Error("the disk is on fire"));
    try {
      await expectError({ method: "state.get", params: {} }, "unknown_error", /disk is on fire/);
    } finally {
      spy.mockRestore();
    }
    // Nothing above changed the thread.
    const state = await sendCommand(server.baseUrl, threadId, { id: 10, method: "state.get" });
    expect(state.body.result.values.messages).toHaveLength(2);
  });

  it("keeps the HTTP API's answers for an unknown assistant (404) and a busy thread under reject (409)", async () => {
    const threadId = randomUUID();
    const unknown = await sendCommand(server.baseUrl, threadId, { id: 1, method: "run.start", params: { assistant_id: randomUUID(), input: userInput("x") } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toMatch(/assistant/i);
    const release = stub.holdNextReply();
    try {
      await sendCommand(server.baseUrl, threadId, { id: 2, method: "run.start", params: { assistant_id: "agent", input: userInput("first") } });
      const busy = await sendCommand(server.baseUrl, threadId, { id: 3, method: "run.start", params: { assistant_id: "agent", input: userInput("second"), multitaskStrategy: "reject" } });
      expect(busy.status).toBe(409);
    } finally {
      release();
    }
    await readAll(server.baseUrl, threadId, { channels: ["lifecycle"] });
  });

  it("asks for input through input.requested, and input.respond answers the interrupt", async () => {
    const threadId = randomUUID();
    const { events } = await runTurn(approvals, threadId, { input: userInput("please delete it") });
    const request = events.find((event) => event.method === "input.requested") as Event;
    expect(request.params.data).toMatchObject({ interrupt_id: expect.any(String), payload: { question: "Proceed?" } });
    expect(events.at(-1)).toMatchObject({ params: { namespace: [], data: { event: "interrupted" } } });

    const respond = async (params: Record<string, unknown>) => (await sendCommand(approvals.baseUrl, threadId, { id: 7, method: "input.respond", params })).body;
    expect(await respond({ namespace: [], interrupt_id: "not-this-one", response: "yes" })).toMatchObject({ type: "error", error: "no_such_interrupt" });
    expect(await respond({ namespace: ["elsewhere"], interrupt_id: request.params.data.interrupt_id, response: "yes" })).toMatchObject({ type: "error", error: "no_such_namespace" });
    const answered = await respond({ namespace: [], interrupt_id: request.params.data.interrupt_id, response: "yes" });
    expect(answered).toMatchObject({ type: "success", result: { run_id: expect.any(String) } });
    const resumed = await readAll(approvals.baseUrl, threadId, { channels: ["lifecycle", "values"], since: (events.at(-1) as Event).seq });
    expect(resumed.at(-1)).toMatchObject({ params: { data: { event: "completed" } } });
    const state = await sendCommand(approvals.baseUrl, threadId, { id: 8, method: "state.get" });
    expect(state.body.result.values.messages.at(-1).content).toBe('You said: "yes"');
    // Nothing waits any more.
    expect(await respond({ namespace: [], interrupt_id: request.params.data.interrupt_id, response: "again" })).toMatchObject({ type: "error", error: "no_such_run" });
  });

  it("resumes an interrupted thread with run.start's input, as the protocol says", async () => {
    const threadId = randomUUID();
    await runTurn(approvals, threadId, { input: userInput("go") });
    const { events } = await runTurn(approvals, threadId, { input: "sure" }, (await sendCommand(approvals.baseUrl, threadId, { id: 1, method: "state.get" })).body.meta.applied_through_seq);
    expect(events.at(-1)).toMatchObject({ params: { data: { event: "completed" } } });
    const state = await sendCommand(approvals.baseUrl, threadId, { id: 2, method: "state.get" });
    expect(state.body.result.values.messages.at(-1).content).toBe('You said: "sure"');
  });

  describe("on the WebSocket", () => {
    /** Opens the thread's socket; frames as they come. */
    async function openSocket(threadId: string) {
      const socket = new WebSocket(`${server.baseUrl.replace("http", "ws")}/threads/${threadId}/stream/events`);
      const frames: any[] = [];
      socket.on("message", (data) => frames.push(JSON.parse(String(data))));
      await new Promise<void>((resolve, reject) => {
        socket.once("open", () => resolve());
        socket.once("error", reject);
      });
      const next = async (predicate: (frame: any) => boolean) => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const found = frames.find(predicate);
          if (found) return found;
          if (Date.now() > deadline) throw new Error("no such frame within the bound");
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      };
      return { socket, frames, next };
    }

    it("answers bad JSON and a bad envelope with an error frame and stays open; each error code of the socket's own commands", async () => {
      const threadId = randomUUID();
      const { socket, next } = await openSocket(threadId);
      try {
        socket.send("{oops");
        expect(await next((frame) => frame.type === "error" && frame.id === null)).toMatchObject({ error: "invalid_argument", message: expect.stringMatching(/JSON/) });
        socket.send(JSON.stringify({ method: "state.get" }));
        await next((frame) => frame.type === "error" && frame.id === null && /id/.test(frame.message));
        socket.send(JSON.stringify({ id: 1, method: "subscription.subscribe", params: { channels: ["nonsense"] } }));
        expect(await next((frame) => frame.id === 1)).toMatchObject({ type: "error", error: "invalid_argument" });
        socket.send(JSON.stringify({ id: 2, method: "subscription.unsubscribe", params: { subscription_id: "unknown" } }));
        expect(await next((frame) => frame.id === 2)).toMatchObject({ type: "error", error: "no_such_subscription" });
        socket.send(JSON.stringify({ id: 3, method: "subscription.reconnect", params: { run_id: randomUUID() } }));
        expect(await next((frame) => frame.id === 3)).toMatchObject({ type: "error", error: "no_such_run" });
        socket.send(JSON.stringify({ id: 4, method: "nope" }));
        expect(await next((frame) => frame.id === 4)).toMatchObject({ type: "error", error: "unknown_command" });
        socket.send(JSON.stringify({ id: 5, method: "run.start", params: { assistant_id: randomUUID(), input: userInput("x") } }));
        expect(await next((frame) => frame.id === 5)).toMatchObject({ type: "error", error: "invalid_argument", message: expect.stringMatching(/assistant/i) });
        expect(socket.readyState).toBe(WebSocket.OPEN);
      } finally {
        socket.close();
      }
    });

    it("restores subscriptions on a new socket with subscription.reconnect, replaying what followed the last event seen", async () => {
      stub.respondWith(() => "alpha beta gamma");
      const threadId = randomUUID();
      const first = await openSocket(threadId);
      first.socket.send(JSON.stringify({ id: 1, method: "subscription.subscribe", params: { channels: ["lifecycle", "messages"] } }));
      const { result } = await first.next((frame) => frame.id === 1);
      // The connection drops just after the run's first event.
      const release = stub.holdNextReply();
      first.socket.send(JSON.stringify({ id: 2, method: "run.start", params: { assistant_id: "agent", input: userInput("hi") } }));
      const { result: started } = await first.next((frame) => frame.id === 2);
      const running = (await first.next((frame) => frame.type === "event" && frame.method === "lifecycle")) as Event;
      first.socket.close();

      const second = await openSocket(threadId);
      try {
        release();
        const missed = await readAll(server.baseUrl, threadId, { channels: ["lifecycle", "messages"], since: running.seq });
        second.socket.send(JSON.stringify({ id: 3, method: "subscription.reconnect", params: { run_id: started.run_id, last_event_id: running.event_id, subscriptions: [result.subscription_id] } }));
        const answer = await second.next((frame) => frame.id === 3);
        expect(answer).toMatchObject({ type: "success", result: { restored: true, missed_events: expect.any(Number) } });
        await second.next((frame) => frame.type === "event" && isRootTerminal(frame));
        const replayed = second.frames.filter((frame) => frame.type === "event") as Event[];
        expect(replayed.length).toBe(answer.result.missed_events);
        // Exactly what the subscription matches after the last event the first socket saw.
        expect(replayed.map((event) => event.seq)).toEqual(missed.map((event) => event.seq));
        const text = replayed.filter((event) => event.method === "messages" && event.params.data.event === "content-block-delta").map((event) => event.params.data.delta.text).join("");
        expect(text).toBe("alpha beta gamma");
        // A subscription id that is not one of ours cannot be restored.
        second.socket.send(JSON.stringify({ id: 4, method: "subscription.reconnect", params: { run_id: started.run_id, subscriptions: ["made-up"] } }));
        expect(await second.next((frame) => frame.id === 4)).toMatchObject({ type: "success", result: { restored: false } });
      } finally {
        second.socket.close();
      }
    });

    it("sends each event once to overlapping subscriptions, and nothing more to one unsubscribed", async () => {
      stub.respondWith(() => "one two three");
      const threadId = randomUUID();
      const { socket, frames, next } = await openSocket(threadId);
      try {
        socket.send(JSON.stringify({ id: 1, method: "subscription.subscribe", params: { channels: ["lifecycle", "values"] } }));
        socket.send(JSON.stringify({ id: 2, method: "subscription.subscribe", params: { channels: ["lifecycle", "messages"], namespaces: [["model"]], depth: 1 } }));
        const [first, second] = [await next((frame) => frame.id === 1), await next((frame) => frame.id === 2)];
        expect(first.result.subscription_id).not.toBe(second.result.subscription_id);
        socket.send(JSON.stringify({ id: 3, method: "run.start", params: { assistant_id: "agent", input: userInput("hi") } }));
        await next((frame) => frame.type === "event" && isRootTerminal(frame));
        const events = frames.filter((frame) => frame.type === "event") as Event[];
        expect(new Set(events.map((event) => event.seq)).size).toBe(events.length);
        expect(events.some((event) => event.method === "messages" && event.params.namespace[0]!.startsWith("model:"))).toBe(true);
        expect(events.some((event) => event.method === "values")).toBe(true);
        // Unsubscribed: the next run's values do not come, its root lifecycle still does.
        socket.send(JSON.stringify({ id: 4, method: "subscription.unsubscribe", params: { subscription_id: first.result.subscription_id } }));
        expect(await next((frame) => frame.id === 4)).toMatchObject({ type: "success" });
        const seen = frames.length;
        socket.send(JSON.stringify({ id: 5, method: "run.start", params: { assistant_id: "agent", input: userInput("again") } }));
        await next((frame) => frame.type === "event" && frame.seq > (events.at(-1) as Event).seq && frame.method === "messages" && frame.params.data.event === "message-finish");
        const later = frames.slice(seen).filter((frame) => frame.type === "event") as Event[];
        expect(later.some((event) => event.method === "values")).toBe(false);
      } finally {
        socket.close();
      }
    });
  });
});
