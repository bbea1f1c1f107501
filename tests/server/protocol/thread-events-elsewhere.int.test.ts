/**
 * The agent streaming protocol across instances on one PostgreSQL schema: a run started on A
 * is followed on B (the SDK's ThreadStream over SSE or a WebSocket, and a plain SSE stream),
 * token by token while A's model is still answering; a client that reconnects with `since` on
 * the other instance gets exactly what it missed; a run started on B numbers its events on.
 */
import { randomUUID } from "node:crypto";
import type { SubscriptionHandle, ThreadStream } from "@langchain/langgraph-sdk";
import { RemoteGraph } from "@langchain/langgraph/remote";
import { beforeEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { until } from "../../support/until.js";
import { useInstances } from "../../support/use-instances.js";
import { ALL_CHANNELS, type RawEventStream, type WireEvent, isRootTerminal, openRawEventStream, seqsOf, tokenOf } from "../../support/protocol-client.js";

const instances = await useInstances();
const { reachable } = instances;
beforeEach(() => {
  if (reachable) instances.stub.reset();
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });
const CHANNELS = ["lifecycle", "messages", "values", "updates", "input"] as const;

/** Holds the stub's next reply after its first word; the returned function lets the rest go. */
function holdAfterFirstWord(): () => void {
  let resume!: () => void;
  // Chunk 1 is the role, chunk 2 the first word.
  instances.stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<void>((resolve) => (resume = resolve)) });
  return () => resume();
}

/**
 * Reads a ThreadStream subscription into `into` until the run's end: the SDK ends a `for await`
 * loop by itself after the root's terminal lifecycle event.
 */
async function readRun(subscription: SubscriptionHandle, into: WireEvent[], onEvent?: (event: WireEvent) => void): Promise<void> {
  for await (const event of subscription) {
    into.push(event as WireEvent);
    onEvent?.(event as WireEvent);
  }
}

/** The reply's tokens in `events`. */
const tokensIn = (events: WireEvent[]) => events.flatMap((event) => tokenOf(event) ?? []);
const isIncreasing = (seqs: number[]) => seqs.every((seq, index) => index === 0 || seq > seqs[index - 1]!);

describe.skipIf(!reachable)("protocol events across instances", () => {
  it("follows on B a run A executes, token by token; since on the other instance resumes exactly; a run on B numbers on", async () => {
    const a = await instances.start();
    const b = await instances.start();
    const threadId = randomUUID();
    const streams: RawEventStream[] = [];
    const threads: ThreadStream[] = [];
    try {
      // A starts the run, its model holding the reply after the first word.
      const resume = holdAfterFirstWord();
      const onA = a.client.threads.stream(threadId, { assistantId: "agent" });
      threads.push(onA);
      const { run_id: firstRun } = await onA.run.start({ input: user("My name is Ada") });

      // B follows it: a plain SSE stream of every channel, and the SDK's ThreadStream.
      const raw = await openRawEventStream(b.baseUrl, threadId, { channels: ALL_CHANNELS });
      streams.push(raw);
      const onB = b.client.threads.stream(threadId, { assistantId: "agent" });
      threads.push(onB);
      const subscription = await onB.subscribe({ channels: [...CHANNELS] });
      const sdkEvents: WireEvent[] = [];
      let completeAtFirstToken: boolean | undefined;
      const following = readRun(subscription, sdkEvents, (event) => {
        if (tokenOf(event) !== undefined) completeAtFirstToken ??= instances.stub.requests[0]?.complete;
      });

      // The first word reaches both of B's clients while A's model still holds the rest.
      await raw.waitFor((events) => tokensIn(events).length > 0);
      expect(instances.stub.requests[0]?.complete).toBe(false);
      await until(() => completeAtFirstToken !== undefined);
      resume();
      await following;
      await raw.waitFor((events) => events.some(isRootTerminal));

      expect(completeAtFirstToken).toBe(false);
      for (const events of [raw.events, sdkEvents]) {
        expect(tokensIn(events)).toEqual(["Nice", " to", " meet", " you,", " Ada!"]);
        // The run's last event is its root's completion.
        expect(events.at(-1)).toMatchObject({ method: "lifecycle", params: { namespace: [], data: { event: "completed" } } });
      }
      // The plain stream has every event once, numbered 1, 2, 3, ... in order.
      const firstSeqs = seqsOf(raw.events);
      expect(firstSeqs).toEqual(firstSeqs.map((_, index) => index + 1));
      expect(raw.events.filter((event) => event.method === "lifecycle" && event.params.namespace.length === 0).map((event) => (event.params.data as { event: string }).event)).toEqual(["running", "completed"]);
      // The ThreadStream got the same events of the channels it asked for, each once.
      expect(new Set(seqsOf(sdkEvents)).size).toBe(sdkEvents.length);
      expect(seqsOf(sdkEvents).toSorted((x, y) => x - y)).toEqual(seqsOf(raw.events.filter((event) => CHANNELS.some((channel) => event.method.split(".")[0] === channel))));

      // A client that had everything up to the first token reconnects on A: it gets exactly the rest.
      const lastSeen = raw.events.find((event) => tokenOf(event) !== undefined)!.seq;
      const resumed = await openRawEventStream(a.baseUrl, threadId, { channels: ALL_CHANNELS, since: lastSeen });
      streams.push(resumed);
      await resumed.waitFor((events) => events.some(isRootTerminal));
      expect(resumed.events).toEqual(raw.events.filter((event) => event.seq > lastSeen));

      // The next run, started on B, continues the thread's numbering and remembers A's turn;
      // A's stream, still open, follows it live.
      const second: WireEvent[] = [];
      const { run_id: secondRun } = await onB.run.start({ input: user("What is my name?") });
      expect(secondRun).not.toBe(firstRun);
      await readRun(subscription, second);
      await resumed.waitFor((events) => events.filter(isRootTerminal).length === 2);
      await raw.waitFor((events) => events.filter(isRootTerminal).length === 2);

      const lastOfFirst = firstSeqs.at(-1)!;
      expect(tokensIn(second)).toEqual(["Your", " name", " is", " Ada."]);
      expect(second.at(-1)).toMatchObject({ method: "lifecycle", params: { namespace: [], data: { event: "completed" } } });
      expect(Math.min(...seqsOf(second))).toBeGreaterThan(lastOfFirst);
      for (const stream of [raw, resumed]) {
        const seqs = seqsOf(stream.events);
        expect(isIncreasing(seqs)).toBe(true);
        expect(seqs.filter((seq) => seq > lastOfFirst)[0]).toBe(lastOfFirst + 1);
        expect(tokensIn(stream.events.filter((event) => event.seq > lastOfFirst))).toEqual(["Your", " name", " is", " Ada."]);
      }
      // Both instances' streams saw the same second run.
      expect(resumed.events.filter((event) => event.seq > lastOfFirst)).toEqual(raw.events.filter((event) => event.seq > lastOfFirst));
      expect(instances.stub.requests.at(-1)?.body.messages.map((message) => message.content)).toEqual([
        "You are a helpful assistant.",
        "My name is Ada",
        // Stored as plain text, whichever path streamed it.
        "Nice to meet you, Ada!",
        "What is my name?",
      ]);
    } finally {
      for (const thread of threads) await thread.close();
      for (const stream of streams) await stream.close();
    }
  });

  it("passes a run started on A to a WebSocket on B, token by token", async () => {
    const a = await instances.start();
    const b = await instances.start();
    const threadId = randomUUID();
    const threads: ThreadStream[] = [];
    try {
      // B's socket subscribes before the thread exists; A's run.start creates it.
      const onB = b.client.threads.stream(threadId, {
        assistantId: "agent",
        transport: "websocket",
        webSocketFactory: (url) => new WebSocket(url) as unknown as globalThis.WebSocket,
      });
      threads.push(onB);
      const subscription = await onB.subscribe({ channels: [...CHANNELS] });
      const events: WireEvent[] = [];
      let completeAtFirstToken: boolean | undefined;
      const following = readRun(subscription, events, (event) => {
        if (tokenOf(event) !== undefined) completeAtFirstToken ??= instances.stub.requests[0]?.complete;
      });

      const resume = holdAfterFirstWord();
      const onA = a.client.threads.stream(threadId, { assistantId: "agent" });
      threads.push(onA);
      await onA.run.start({ input: user("My name is Ada") });
      await until(() => completeAtFirstToken !== undefined);
      resume();
      await following;

      expect(completeAtFirstToken).toBe(false);
      expect(tokensIn(events)).toEqual(["Nice", " to", " meet", " you,", " Ada!"]);
      expect(events[0]).toMatchObject({ seq: 1, method: "lifecycle", params: { namespace: [], data: { event: "running" } } });
      expect(events.at(-1)).toMatchObject({ method: "lifecycle", params: { namespace: [], data: { event: "completed" } } });
      expect(isIncreasing(seqsOf(events))).toBe(true);
      const finalValues = events.filter((event) => event.method === "values" && event.params.namespace.length === 0).at(-1)?.params.data as { messages: Array<{ type: string; content: unknown }> };
      expect(finalValues.messages.map((message) => message.type)).toEqual(["human", "ai"]);

      // A socket opened on B while A runs the thread's next turn gets that run from its start,
      // not the previous run's events (whose end would stop the SDK's loop at once).
      const resumeNext = holdAfterFirstWord();
      await onA.run.start({ input: user("What is my name?") });
      await until(() => instances.stub.requests.length === 2);
      const late = b.client.threads.stream(threadId, {
        assistantId: "agent",
        transport: "websocket",
        webSocketFactory: (url) => new WebSocket(url) as unknown as globalThis.WebSocket,
      });
      threads.push(late);
      const lateEvents: WireEvent[] = [];
      let completeAtLateToken: boolean | undefined;
      const lateFollowing = readRun(await late.subscribe({ channels: [...CHANNELS] }), lateEvents, (event) => {
        if (tokenOf(event) !== undefined) completeAtLateToken ??= instances.stub.requests[1]?.complete;
      });
      await until(() => completeAtLateToken !== undefined);
      resumeNext();
      await lateFollowing;
      expect(completeAtLateToken).toBe(false);
      expect(lateEvents[0]).toMatchObject({ seq: events.at(-1)!.seq + 1, method: "lifecycle", params: { namespace: [], data: { event: "running" } } });
      expect(tokensIn(lateEvents)).toEqual(["Your", " name", " is", " Ada."]);
      expect(lateEvents.at(-1)).toMatchObject({ method: "lifecycle", params: { namespace: [], data: { event: "completed" } } });
    } finally {
      for (const thread of threads) await thread.close();
    }
  });
  it("serves RemoteGraph.streamEvents v3 on either instance: a thread begun on A goes on through B, token by token, remembering", async () => {
    const a = await instances.start();
    const b = await instances.start();
    const config = { configurable: { thread_id: randomUUID() } };
    instances.stub.respondWith((request) => (request.messages.some((message) => message.content === "My name is Ada") && request.messages.length > 2 ? "Your name is Ada." : "Nice to meet you, Ada!"));
    const onA = new RemoteGraph({ graphId: "agent", url: a.baseUrl });
    await onA.invoke(user("My name is Ada"), config);
    const onB = new RemoteGraph({ graphId: "agent", url: b.baseUrl });
    const resume = holdAfterFirstWord();
    const run = await onB.streamEvents(user("What is my name?"), { version: "v3", ...config });
    const deltas: string[] = [];
    for await (const event of run) {
      const token = tokenOf(event as unknown as WireEvent);
      if (token === undefined) continue;
      deltas.push(token);
      // The first word came while B's model still holds the rest: it streams.
      if (deltas.length === 1) resume();
    }
    expect(deltas).toEqual(["Your", " name", " is", " Ada."]);
    const output = (await run.output) as { messages: Array<{ content: unknown }> };
    expect(output.messages.map((message) => message.content)).toEqual(["My name is Ada", "Nice to meet you, Ada!", "What is my name?", "Your name is Ada."]);
    expect(instances.stub.requests.at(-1)?.body.messages.map((message) => message.content)).toContain("Nice to meet you, Ada!");
  });
});
