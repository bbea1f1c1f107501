/**
 * The official SDK's `ThreadStream` (`client.threads.stream`), unchanged, against this server,
 * over SSE and over a WebSocket: the projections a user reads (`values`, `messages` token by
 * token, `output`), the run's root lifecycle, event numbers that go on across runs, memory
 * across turns, and two subscribers on one thread seeing the same run.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { testBackends } from "../../support/server.js";
import { until } from "../../support/until.js";
import { useStubAndServer } from "../../support/use-server.js";
import { wireText } from "../../support/openai-stub.js";
import {
  TRANSPORTS,
  ThreadStreams,
  isRootLifecycle,
  isRootTerminal,
  messageTexts,
  readEventStream,
  startRun,
  userTurn,
} from "../../support/protocol-client.js";

describe.each(await testBackends())("on %s", (backend) => {
  const fixture = useStubAndServer(backend);
  const streams = new ThreadStreams(() => fixture.server.client);
  afterEach(() => streams.closeAll());

  describe.each(TRANSPORTS)("over %s", (transport) => {
    it("streams the reply token by token, and its values, output and root lifecycle", async () => {
      const { stub } = fixture;
      // Chunks apart, so the reply reaches the client as it is written, not at once.
      stub.delayEveryChunk(15);
      const thread = streams.open(randomUUID(), transport);
      await thread.run.start(userTurn("hello there friend"));

      const messages = (async () => {
        const seen: Array<{ deltas: string[]; text: string }> = [];
        for await (const message of thread.messages) {
          const deltas: string[] = [];
          for await (const delta of message.text) deltas.push(delta);
          seen.push({ deltas, text: await message.text });
        }
        return seen;
      })();
      const snapshots = (async () => {
        const seen: unknown[] = [];
        for await (const values of thread.values) seen.push(values);
        return seen;
      })();
      const output = await thread.output;

      const reply = "You said: hello there friend";
      expect(messageTexts(output)).toEqual(["hello there friend", reply]);
      const [message, ...others] = await messages;
      expect(others).toEqual([]);
      // One delta per word the model sent: several, which put together are the reply.
      expect(message!.deltas.length).toBeGreaterThan(1);
      expect(message!.deltas.join("")).toBe(reply);
      expect(message!.text).toBe(reply);
      // The state as it went: the user's message first, then with the reply.
      const states = (await snapshots).map(messageTexts);
      expect(states[0]).toEqual(["hello there friend"]);
      expect(states.at(-1)).toEqual(["hello there friend", reply]);

      expect(streams.rootLifecycle(thread)).toEqual(["running", "completed"]);
      const events = streams.events(thread);
      const seqs = events.map((event) => event.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      // The run's first event is its root `running`, its last the root `completed`.
      const sorted = [...events].sort((a, b) => a.seq - b.seq);
      expect(isRootLifecycle(sorted[0]!) && (sorted[0]!.params.data as { event: string }).event).toBe("running");
      expect(isRootTerminal(sorted.at(-1)!)).toBe(true);
      for (const event of events) expect(event.event_id).toBe(String(event.seq));
    });

    it("numbers events on across runs, and the second turn remembers the first", async () => {
      const { server, stub } = fixture;
      const threadId = randomUUID();
      const thread = streams.open(threadId, transport);
      await thread.run.start(userTurn("My name is Ada"));
      expect(messageTexts(await thread.output)).toEqual(["My name is Ada", "Nice to meet you, Ada!"]);
      const second = await startRun(thread, userTurn("What is my name?"));
      await streams.runsEnded(thread, 2);

      expect(streams.rootLifecycle(thread)).toEqual(["running", "completed", "running", "completed"]);
      const events = streams.events(thread);
      const firstEnd = events.filter(isRootTerminal)[0]!.seq;
      const secondStart = events.filter(isRootLifecycle)[2]!.seq;
      expect(secondStart).toBeGreaterThan(firstEnd);
      // Everything after the first run's end belongs to the second and is numbered after it.
      const afterFirst = events.slice(events.findIndex(isRootTerminal) + 1);
      expect(afterFirst.length).toBeGreaterThan(0);
      for (const event of afterFirst) expect(event.seq).toBeGreaterThan(firstEnd);

      // The model was sent the first turn again with the second.
      expect(stub.requests).toHaveLength(2);
      expect(stub.requests[1]!.body.messages.map(wireText)).toEqual(expect.arrayContaining(["My name is Ada", "Nice to meet you, Ada!", "What is my name?"]));
      const expected = ["My name is Ada", "Nice to meet you, Ada!", "What is my name?", "Your name is Ada."];
      expect(messageTexts((await thread.state.get({ namespace: [] })).values)).toEqual(expected);
      expect(messageTexts((await server.client.threads.getState(threadId)).values)).toEqual(expected);
      // The run's record says so too (a moment after its last event went out).
      await expect.poll(async () => (await server.client.runs.get(threadId, second)).status).toBe("success");
    });

    it("lets two subscribers on one thread see the same run", async () => {
      const { server, stub } = fixture;
      const threadId = randomUUID();
      const release = stub.holdNextReply();
      const starter = streams.open(threadId, transport);
      await starter.run.start(userTurn("one run, two readers"));
      await until(() => stub.requests.length === 1);

      // Joined while the run is under way: each reads it from its start.
      const watcher = streams.open(threadId, transport);
      const watched = watcher.output;
      const raw = readEventStream(server.baseUrl, threadId, { channels: ["values", "lifecycle"] }, (events) => events.some(isRootTerminal));
      // The watcher has caught up with the run before the reply is let go.
      await until(() => streams.rootLifecycle(watcher).includes("running"));
      release();

      const [started, seen, rawEvents] = await Promise.all([starter.output, watched, raw]);
      expect(messageTexts(seen)).toEqual(messageTexts(started));
      expect(messageTexts(started)).toEqual(["one run, two readers", "You said: one run, two readers"]);
      const ids = (events: Array<{ event_id: string; method: string }>) =>
        events.filter((event) => event.method === "values" || event.method === "lifecycle").map((event) => event.event_id).sort();
      expect(ids(streams.events(watcher))).toEqual(ids(streams.events(starter)));
      expect(ids(rawEvents)).toEqual(ids(streams.events(starter)));
      expect(streams.rootLifecycle(watcher)).toEqual(["running", "completed"]);
    });
  });
});
