/**
 * What a client gets back of a thread's events after it lost them: a stream reopened with
 * `since` after a dropped connection (exactly the events numbered after it, so the reply is
 * whole, nothing twice), a stream opened without `since` (everything kept, across the thread's
 * runs), and the official SDK's `ThreadStream` joining a thread once its run is over.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { testBackends } from "../../support/server.js";
import { until } from "../../support/until.js";
import { useStubAndServer } from "../../support/use-server.js";
import {
  ALL_CHANNELS,
  TRANSPORTS,
  ThreadStreams,
  type WireEvent,
  isRootTerminal,
  messageTexts,
  readEventStream,
  startRun,
  userTurn,
} from "../../support/protocol-client.js";

/** The text deltas of a reply among `events`, in order. */
const textDeltas = (events: WireEvent[]) =>
  events.flatMap((event) => {
    const data = event.params.data as { event?: string; delta?: { type?: string; text?: string } };
    return event.method === "messages" && data.event === "content-block-delta" && data.delta?.type === "text-delta" ? [data.delta.text ?? ""] : [];
  });

describe.each(await testBackends())("on %s", (backend) => {
  const fixture = useStubAndServer(backend);
  const streams = new ThreadStreams(() => fixture.server.client);
  afterEach(() => streams.closeAll());

  it("reopened with since after a dropped connection, a stream gets exactly the events numbered after it", async () => {
    const { server, stub } = fixture;
    const threadId = randomUUID();
    // The reply stops after its first two words until the client has gone.
    let resume!: () => void;
    stub.inject({ kind: "pause", afterChunks: 3, resume: new Promise<void>((resolve) => (resume = resolve)) });
    const thread = streams.open(threadId, "sse");
    const runId = await startRun(thread, userTurn("a reply cut in two"));
    void thread.messages;
    await until(() => textDeltas(streams.events(thread)).length === 2);
    const before = [...streams.events(thread)];
    const last = Math.max(...before.map((event) => event.seq));
    await thread.close();

    resume();
    await server.client.runs.join(threadId, runId);
    const kept = await readEventStream(server.baseUrl, threadId, { channels: ALL_CHANNELS }, (events) => events.some(isRootTerminal));
    const resumed = await readEventStream(server.baseUrl, threadId, { channels: ALL_CHANNELS, since: last }, (events) => events.some(isRootTerminal));

    // One run on a new thread: every event is kept, numbered from 1 with no gap.
    expect(kept.map((event) => event.seq)).toEqual(kept.map((_, index) => index + 1));
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed).toEqual(kept.filter((event) => event.seq > last));
    // What the client read before the drop and after it make the whole reply, once.
    expect([...textDeltas(before), ...textDeltas(resumed)].join("")).toBe("You said: a reply cut in two");
    // The same holds for a narrower filter: only its events, after `since`.
    const narrow = await readEventStream(server.baseUrl, threadId, { channels: ["lifecycle"], since: last }, (events) => events.some(isRootTerminal));
    expect(narrow).toEqual(kept.filter((event) => event.seq > last && event.method === "lifecycle"));
  });

  it("with since: 0, a stream replays what is kept of the thread's runs, in order; without since, from the newest run", async () => {
    const { server } = fixture;
    const threadId = randomUUID();
    const thread = streams.open(threadId, "sse");
    await startRun(thread, userTurn("My name is Ada"));
    await startRun(thread, { ...userTurn("What is my name?"), multitaskStrategy: "enqueue" });
    await streams.runsEnded(thread, 2);

    const replay = await readEventStream(server.baseUrl, threadId, { channels: ALL_CHANNELS, since: 0 }, (events) => events.filter(isRootTerminal).length === 2);
    const roots = replay.filter((event) => event.method === "lifecycle" && event.params.namespace.length === 0).map((event) => (event.params.data as { event: string }).event);
    expect(roots).toEqual(["running", "completed", "running", "completed"]);
    const seqs = replay.map((event) => event.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const event of replay) expect(event.event_id).toBe(String(event.seq));
    const values = replay.filter((event) => event.method === "values" && event.params.namespace.length === 0);
    expect(messageTexts(values.at(-1)!.params.data)).toEqual(messageTexts((await server.client.threads.getState(threadId)).values));
    // Without since: the newest run only, so a client that opens its stream after run.start
    // does not take the run before for its own.
    const newest = await readEventStream(server.baseUrl, threadId, { channels: ["lifecycle"] }, (events) => events.filter(isRootTerminal).length === 1);
    expect(newest.filter((event) => event.params.namespace.length === 0).map((event) => (event.params.data as { event: string }).event)).toEqual(["running", "completed"]);
    expect(newest[0]!.seq).toBeGreaterThan(replay.filter(isRootTerminal)[0]!.seq);
  });

  describe.each(TRANSPORTS)("over %s", (transport) => {
    it("a ThreadStream that joins once the run is over reads it from what is kept", async () => {
      const { server } = fixture;
      const threadId = randomUUID();
      const starter = streams.open(threadId, transport);
      await startRun(starter, userTurn("read me later"));
      await starter.output;
      await starter.close();

      // A page reloaded after the reply: a new client on the same thread.
      const late = streams.open(threadId, transport);
      expect(messageTexts(await late.output)).toEqual(["read me later", "You said: read me later"]);
      expect(streams.rootLifecycle(late)).toEqual(["running", "completed"]);
      expect(messageTexts((await late.state.get({ namespace: [] })).values)).toEqual(messageTexts((await server.client.threads.getState(threadId)).values));
    });
  });
});
