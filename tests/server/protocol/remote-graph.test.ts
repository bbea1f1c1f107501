/**
 * LangGraph's own `RemoteGraph.streamEvents(input, { version: "v3" })` against this server, as a
 * user of `@langchain/langgraph/remote` writes it: the run streams (its events, and the
 * projections built on them), the reply comes token by token while the model is still
 * answering, and two calls on one thread share its memory.
 */
import { randomUUID } from "node:crypto";
import { RemoteGraph } from "@langchain/langgraph/remote";
import type { BaseMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { wireText } from "../../support/openai-stub.js";
import { testBackends } from "../../support/server.js";
import { useStubAndServer } from "../../support/use-server.js";

type State = { messages: BaseMessage[] };
const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.each(await testBackends())("RemoteGraph.streamEvents v3 on %s", (backend) => {
  const fixture = useStubAndServer(backend);

  /** Holds the stub's next reply after its first word; the returned function lets the rest go. */
  function holdAfterFirstWord(): () => void {
    let resume!: () => void;
    // Chunk 1 is the role, chunk 2 the first word.
    fixture.stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<void>((resolve) => (resume = resolve)) });
    return () => resume();
  }

  it("streams each turn token by token and keeps the thread's memory across calls", async () => {
    const { server, stub } = fixture;
    const graph = new RemoteGraph({ graphId: "agent", url: server.baseUrl });
    const config = { configurable: { thread_id: randomUUID() } };

    // First call: the raw protocol events.
    const resumeFirst = holdAfterFirstWord();
    const first = await graph.streamEvents(user("My name is Ada"), { version: "v3", ...config });
    const events = [];
    const firstDeltas: string[] = [];
    let completeAtFirstDelta: boolean | undefined;
    try {
      for await (const event of first) {
        events.push(event);
        const data = event.params.data as { event?: string; delta?: { type: string; text?: string } };
        if (event.method === "messages" && data.event === "content-block-delta" && data.delta?.type === "text-delta") {
          firstDeltas.push(data.delta.text ?? "");
          // The first token is here while the model still holds the rest of its reply.
          completeAtFirstDelta ??= stub.requests[0]?.complete;
          resumeFirst();
        }
      }
      const output = (await first.output) as State;
      expect(output.messages.map((message) => [message.getType(), message.text])).toEqual([
        ["human", "My name is Ada"],
        ["ai", "Nice to meet you, Ada!"],
      ]);
    } finally {
      resumeFirst();
      await first.thread.close();
    }
    expect(completeAtFirstDelta).toBe(false);
    expect(firstDeltas).toEqual(["Nice", " to", " meet", " you,", " Ada!"]);
    // One run's events, each once, ending with the root's completion.
    const seqs = events.map((event) => event.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    const rootLifecycle = events.filter((event) => event.method === "lifecycle" && event.params.namespace.length === 0).map((event) => (event.params.data as { event: string }).event);
    expect(rootLifecycle).toEqual(["running", "completed"]);
    expect(events.some((event) => event.method === "values")).toBe(true);

    // Second call on the same thread: the messages projection and the final state.
    const resumeSecond = holdAfterFirstWord();
    const second = await graph.streamEvents(user("What is my name?"), { version: "v3", ...config });
    const replies: Array<{ deltas: string[]; text: string }> = [];
    let completeAtSecondDelta: boolean | undefined;
    try {
      for await (const message of second.messages) {
        const deltas: string[] = [];
        for await (const delta of message.text) {
          deltas.push(delta);
          completeAtSecondDelta ??= stub.requests[1]?.complete;
          resumeSecond();
        }
        replies.push({ deltas, text: await message.text });
      }
      const output = (await second.output) as State;
      expect(output.messages.map((message) => message.text)).toEqual(["My name is Ada", "Nice to meet you, Ada!", "What is my name?", "Your name is Ada."]);
    } finally {
      resumeSecond();
      await second.thread.close();
    }
    // Only this call's reply, streamed word by word.
    expect(replies).toEqual([{ deltas: ["Your", " name", " is", " Ada."], text: "Your name is Ada." }]);
    expect(completeAtSecondDelta).toBe(false);

    // What reached the model: the first turn alone, then the whole thread.
    expect(stub.requests).toHaveLength(2);
    expect(stub.requests.every((request) => request.body.stream === true)).toBe(true);
    expect(stub.requests.map((request) => request.body.messages.map((message) => [message.role, wireText(message)]))).toEqual([
      [
        ["system", "You are a helpful assistant."],
        ["user", "My name is Ada"],
      ],
      [
        ["system", "You are a helpful assistant."],
        ["user", "My name is Ada"],
        ["assistant", "Nice to meet you, Ada!"],
        ["user", "What is my name?"],
      ],
    ]);
  });
});
