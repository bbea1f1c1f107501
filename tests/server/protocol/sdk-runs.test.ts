/**
 * How runs started through the official SDK's `ThreadStream` end, over SSE and over a WebSocket:
 * a second `run.start` on a busy thread under each multitask strategy (reject, enqueue,
 * interrupt, rollback), a run whose model fails for good, and a run cancelled through the REST
 * API. Each is judged by what the client receives (the root lifecycle, errors) and what the
 * thread holds afterwards.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { wireText } from "../../support/openai-stub.js";
import { testBackends } from "../../support/server.js";
import { until } from "../../support/until.js";
import { useStubAndServer } from "../../support/use-server.js";
import {
  ALL_CHANNELS,
  type LifecycleData,
  TRANSPORTS,
  ThreadStreams,
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

  /**
   * A run's status as the REST API reports it, once it is `expected`: the run's last event
   * reaches clients as soon as it is stored, a moment before its record says how it ended.
   */
  const statusOf = (threadId: string, runId: string) => expect.poll(async () => (await fixture.server.client.runs.get(threadId, runId)).status);

  describe.each(TRANSPORTS)("over %s", (transport) => {
    /** A thread whose first run waits on the model (its reply held): the stream that started it, and the run. */
    async function busyThread(text: string) {
      const { stub } = fixture;
      const threadId = randomUUID();
      const release = stub.holdNextReply();
      const first = streams.open(threadId, transport);
      const runId = await startRun(first, userTurn(text));
      await until(() => stub.requests.length === 1);
      return { threadId, first, runId, release };
    }

    describe("a second run.start while a run is going", () => {
      it("reject: refused, and the first run goes on alone", async () => {
        const { server, stub } = fixture;
        const { threadId, first, runId, release } = await busyThread("first");
        const second = streams.open(threadId, transport);
        const refusal = await second.run.start({ ...userTurn("second"), multitaskStrategy: "reject" }).then(
          () => undefined,
          (error: unknown) => error,
        );
        // Over HTTP the SDK surfaces the 409; over a WebSocket the protocol's error frame.
        expect(refusal).toBeInstanceOf(Error);
        if (transport === "sse") expect(refusal).toMatchObject({ status: 409 });
        else expect(refusal).toMatchObject({ name: "ProtocolError" });
        expect((refusal as Error).message).toContain(`is busy with run ${runId}`);

        release();
        expect(messageTexts(await first.output)).toEqual(["first", "You said: first"]);
        expect(streams.rootLifecycle(first)).toEqual(["running", "completed"]);
        expect((await server.client.runs.list(threadId)).map((run) => run.run_id)).toEqual([runId]);
        expect(stub.requests).toHaveLength(1);
      });

      it("enqueue: both runs complete, in order, the second after the first", async () => {
        const { server, stub } = fixture;
        const { threadId, first, runId, release } = await busyThread("first");
        const second = streams.open(threadId, transport);
        const queued = await startRun(second, { ...userTurn("second"), multitaskStrategy: "enqueue" });
        release();
        await streams.runsEnded(first, 2);

        expect(streams.rootLifecycle(first)).toEqual(["running", "completed", "running", "completed"]);
        await statusOf(threadId, runId).toBe("success");
        await statusOf(threadId, queued).toBe("success");
        expect(messageTexts((await server.client.threads.getState(threadId)).values)).toEqual(["first", "You said: first", "second", "You said: second"]);
        expect(stub.requests[1]!.body.messages.map(wireText)).toEqual(expect.arrayContaining(["first", "You said: first", "second"]));
      });

      it("interrupt: the first run ends interrupted, its input stays, the second completes", async () => {
        const { server, stub } = fixture;
        const { threadId, first, runId } = await busyThread("first");
        const second = streams.open(threadId, transport);
        const next = await startRun(second, { ...userTurn("second"), multitaskStrategy: "interrupt" });
        await streams.runsEnded(first, 2);

        expect(streams.rootLifecycle(first)).toEqual(["running", "interrupted", "running", "completed"]);
        await statusOf(threadId, runId).toBe("interrupted");
        await statusOf(threadId, next).toBe("success");
        // The user's words of the interrupted turn stay, without a reply.
        expect(messageTexts((await server.client.threads.getState(threadId)).values)).toEqual(["first", "second", "You said: second"]);
        expect(stub.requests[1]!.body.messages.map(wireText)).toEqual(expect.arrayContaining(["first", "second"]));
      });

      it("rollback: the first run ends interrupted and leaves no trace", async () => {
        const { server, stub } = fixture;
        const { threadId, first } = await busyThread("words rolled back");
        const second = streams.open(threadId, transport);
        const next = await startRun(second, { ...userTurn("second"), multitaskStrategy: "rollback" });
        await streams.runsEnded(first, 2);

        // Those watching saw it stop.
        expect(streams.rootLifecycle(first)).toEqual(["running", "interrupted", "running", "completed"]);
        // Then nothing of it is left: no run, no message, no checkpoint, no event.
        expect((await server.client.runs.list(threadId)).map((run) => run.run_id)).toEqual([next]);
        expect(messageTexts((await server.client.threads.getState(threadId)).values)).toEqual(["second", "You said: second"]);
        for (const state of await server.client.threads.getHistory(threadId, { limit: 100 })) expect(messageTexts(state.values)).not.toContain("words rolled back");
        expect(stub.requests[1]!.body.messages.map(wireText)).not.toContain("words rolled back");
        const kept = await readEventStream(server.baseUrl, threadId, { channels: ALL_CHANNELS }, (events) => events.some(isRootTerminal));
        expect(kept.filter(isRootTerminal).map((event) => (event.params.data as LifecycleData).event)).toEqual(["completed"]);
        expect(JSON.stringify(kept)).not.toContain("words rolled back");
      });
    });

    it("a run whose model fails for good ends failed with its error, and the thread is as before", async () => {
      const { server, stub } = fixture;
      const threadId = randomUUID();
      const thread = streams.open(threadId, transport);
      await thread.run.start(userTurn("My name is Ada"));
      await thread.output;
      const before = await thread.state.get({ namespace: [] });
      const beforeRest = await server.client.threads.getState(threadId);

      // Every attempt fails, retries included.
      stub.failMatching(() => true, 500);
      const failed = await startRun(thread, userTurn("What is my name?"));
      await streams.runsEnded(thread, 2);

      expect(streams.rootLifecycle(thread)).toEqual(["running", "completed", "running", "failed"]);
      const end = streams.events(thread).filter(isRootTerminal).at(-1)!.params.data as LifecycleData;
      expect(end.error).toEqual(expect.stringMatching(/\S/));
      await statusOf(threadId, failed).toBe("error");
      expect(await thread.state.get({ namespace: [] })).toEqual(before);
      const afterRest = await server.client.threads.getState(threadId);
      expect(afterRest.values).toEqual(beforeRest.values);
      expect(afterRest.checkpoint).toEqual(beforeRest.checkpoint);
      expect(messageTexts(afterRest.values)).toEqual(["My name is Ada", "Nice to meet you, Ada!"]);
    });

    it("a run cancelled through the REST API ends interrupted", async () => {
      const { server } = fixture;
      const { threadId, first, runId } = await busyThread("stop me");
      await server.client.runs.cancel(threadId, runId);
      const output = await first.output;

      expect(streams.rootLifecycle(first)).toEqual(["running", "interrupted"]);
      expect(first.interrupted).toBe(true);
      expect(messageTexts(output)).toEqual(["stop me"]);
      await statusOf(threadId, runId).toBe("interrupted");
      // A Stop keeps the user's words, with no reply.
      expect(messageTexts((await server.client.threads.getState(threadId)).values)).toEqual(["stop me"]);
    });
  });
});
