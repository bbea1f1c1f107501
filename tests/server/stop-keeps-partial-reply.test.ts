/**
 * Stop keeps what the user saw: a run cancelled with `interrupt` after the model streamed part of
 * its reply leaves the user's input and that partial reply, as an AI message marked
 * `response_metadata.stopped`, which the model is sent on the next turn. Through the runs API
 * (`/runs/stream`, the web page's path) and through the agent streaming protocol. Stopped before
 * any token, only the input stays; rolled back, nothing does.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type OpenAiStub, wireText } from "../support/openai-stub.js";
import { TRANSPORTS, ThreadStreams, isRootTerminal, openRawEventStream, startRun, tokenOf, userTurn } from "../support/protocol-client.js";
import { testBackends } from "../support/server.js";
import { until } from "../support/until.js";
import { useStubAndServer } from "../support/use-server.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });
const STORY = "Once upon a time there was a dragon.";

interface WireMessage {
  type: string;
  content: unknown;
  id?: string;
  response_metadata?: Record<string, unknown>;
}
const messagesOf = (values: unknown) => (values as { messages: WireMessage[] }).messages;

/** Makes the next reply STORY, sent up to "Once upon" (the role chunk and two words), then held until the returned function is called. */
function holdStoryAfterTwoWords(stub: OpenAiStub): () => void {
  stub.respondWith(() => STORY);
  let resume!: () => void;
  stub.inject({ kind: "pause", afterChunks: 3, resume: new Promise<void>((resolve) => (resume = resolve)) });
  return resume;
}

describe.each(await testBackends())("Stop keeps the streamed part of the reply (%s)", (backend) => {
  const fixture = useStubAndServer(backend);
  const streams = new ThreadStreams(() => fixture.server.client);
  afterEach(() => streams.closeAll());

  /**
   * Starts a streamed run of `text` (messages-tuple, as the web page streams) and waits until the
   * client has received `seen` of its reply; returns the run, the streamed message's id, and the
   * stream's end.
   */
  async function streamUntil(threadId: string, text: string, seen: string) {
    const { client } = fixture.server;
    let runId: string | undefined;
    let streamedId: string | undefined;
    let tokens = "";
    const reading = (async () => {
      for await (const part of client.runs.stream(threadId, "agent", { input: user(text), streamMode: ["messages-tuple"] })) {
        if (part.event === "metadata") runId = (part.data as { run_id: string }).run_id;
        if (part.event === "messages") {
          const [chunk] = part.data as unknown as [{ content: string; id?: string }];
          tokens += chunk.content;
          streamedId ??= chunk.id;
        }
      }
    })();
    await until(() => tokens === seen);
    return { runId: runId!, streamedId: streamedId!, reading };
  }

  it("a Stop after two words keeps the question and those words, marked as stopped; the next turn sends them", async () => {
    const { server, stub } = fixture;
    const { client } = server;
    const thread = await client.threads.create();
    const resume = holdStoryAfterTwoWords(stub);
    const { runId, streamedId, reading } = await streamUntil(thread.thread_id, "Tell me a story", "Once upon");

    await client.runs.cancel(thread.thread_id, runId, true, "interrupt");
    await reading;
    resume();
    expect((await client.runs.get(thread.thread_id, runId)).status).toBe("interrupted");
    const state = await client.threads.getState(thread.thread_id);
    const messages = messagesOf(state.values);
    expect(messages.map((message) => [message.type, message.content])).toEqual([
      ["human", "Tell me a story"],
      ["ai", "Once upon"],
    ]);
    // The marker, and the id the page streamed the words under (it finds its message again).
    expect(messages[1]!.response_metadata).toEqual({ stopped: true });
    expect(messages[1]!.id).toBe(streamedId);
    expect(state.next).toEqual([]);
    expect((await client.threads.get(thread.thread_id)).status).toBe("idle");

    // The model sees what it had begun to say (and nothing of the marker).
    stub.respondWith((request) => `You said: ${wireText(request.messages.at(-1)!)}`);
    const next = await client.runs.wait(thread.thread_id, "agent", { input: user("Go on") });
    const sent = stub.requests.at(-1)!.body.messages;
    expect(sent.map((message) => [message.role, wireText(message)])).toEqual([
      ["system", "You are a helpful assistant."],
      ["user", "Tell me a story"],
      ["assistant", "Once upon"],
      ["user", "Go on"],
    ]);
    expect(Object.keys(sent[2]!)).toEqual(["role", "content"]);
    expect(messagesOf(next).map((message) => message.content)).toEqual(["Tell me a story", "Once upon", "Go on", "You said: Go on"]);
    // Still marked when read back from the database, after a turn wrote on top of it.
    expect(messagesOf((await client.threads.getState(thread.thread_id)).values)[1]!.response_metadata).toEqual({ stopped: true });
  });

  it("a Stop before any token keeps only the question, as before", async () => {
    const { server, stub } = fixture;
    const { client } = server;
    const thread = await client.threads.create();
    stub.holdNextReply();
    const run = await client.runs.create(thread.thread_id, "agent", { input: user("Are you there?"), streamMode: ["messages-tuple"] });
    await until(() => stub.requests.length === 1);
    await client.runs.cancel(thread.thread_id, run.run_id, true, "interrupt");
    expect(messagesOf((await client.threads.getState(thread.thread_id)).values).map((message) => [message.type, message.content])).toEqual([["human", "Are you there?"]]);
  });

  it("a rollback after two words keeps nothing of the turn", async () => {
    const { server, stub } = fixture;
    const { client } = server;
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "agent", { input: user("My name is Ada") });
    const resume = holdStoryAfterTwoWords(stub);
    const { runId, reading } = await streamUntil(thread.thread_id, "Tell me a story", "Once upon");
    await client.runs.cancel(thread.thread_id, runId, true, "rollback");
    await reading;
    resume();
    expect(messagesOf((await client.threads.getState(thread.thread_id)).values).map((message) => message.content)).toEqual(["My name is Ada", "Nice to meet you, Ada!"]);
  });

  it("a reply that was not streamed (values only) leaves only the question", async () => {
    const { server, stub } = fixture;
    const { client } = server;
    const thread = await client.threads.create();
    // Held before its body: nothing was streamed, and a client asking for values saw no words.
    stub.holdNextReply();
    const run = await client.runs.create(thread.thread_id, "agent", { input: user("Tell me a story"), streamMode: ["values"] });
    await until(() => stub.requests.length === 1);
    expect(stub.requests[0]!.body.stream).toBeFalsy();
    await client.runs.cancel(thread.thread_id, run.run_id, true, "interrupt");
    expect(messagesOf((await client.threads.getState(thread.thread_id)).values).map((message) => message.type)).toEqual(["human"]);
  });

  describe.each(TRANSPORTS)("through the agent streaming protocol over %s", (transport) => {
    it("a run started with run.start and stopped after two words keeps them, and the next turn sends them", async () => {
      const { server, stub } = fixture;
      const threadId = randomUUID();
      const resume = holdStoryAfterTwoWords(stub);
      const thread = streams.open(threadId, transport);
      const runId = await startRun(thread, userTurn("Tell me a story"));
      const watching = await openRawEventStream(server.baseUrl, threadId, { channels: ["messages", "lifecycle"] });
      try {
        await watching.waitFor((events) => events.flatMap((event) => tokenOf(event) ?? []).join("") === "Once upon");
        await server.client.runs.cancel(threadId, runId, true, "interrupt");
        await watching.waitFor((events) => events.some(isRootTerminal));
      } finally {
        await watching.close();
        resume();
      }
      const messages = messagesOf((await server.client.threads.getState(threadId)).values);
      expect(messages.map((message) => [message.type, message.content, message.response_metadata?.stopped])).toEqual([
        ["human", "Tell me a story", undefined],
        ["ai", "Once upon", true],
      ]);

      stub.respondWith((request) => `You said: ${wireText(request.messages.at(-1)!)}`);
      await server.client.runs.wait(threadId, "agent", { input: user("Go on") });
      expect(stub.requests.at(-1)!.body.messages.map((message) => [message.role, wireText(message)])).toEqual([
        ["system", "You are a helpful assistant."],
        ["user", "Tell me a story"],
        ["assistant", "Once upon"],
        ["user", "Go on"],
      ]);
    });
  });
});
