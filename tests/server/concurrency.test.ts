/** Many clients at once, through the SDK: one thread at a time is enforced, nothing lost or mixed. */
import { describe, expect, it } from "vitest";
import { testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";

describe.each(await testBackends())("on %s", (backend) => {
  const fixture = useStubAndServer(backend);

  const user = (content: string) => ({ messages: [{ role: "user", content }] });
  const contents = (values: unknown) => ((values as { messages?: Array<{ content: string }> }).messages ?? []).map((message) => message.content);

  describe("concurrency", () => {
    it("20 parallel enqueued runs on one thread add exactly 40 messages, in the order the runs were queued", async () => {
      const { client } = fixture.server;
      const thread = await client.threads.create();
      const runs = await Promise.all(
        Array.from({ length: 20 }, (_, index) => client.runs.create(thread.thread_id, "agent", { input: user(`message ${index}`), multitaskStrategy: "enqueue" })),
      );
      await Promise.all(runs.map((run) => client.runs.join(thread.thread_id, run.run_id)));
      const messages = contents((await client.threads.getState(thread.thread_id)).values);
      expect(messages).toHaveLength(40);
      // Each question is followed by its own answer, and every question appears once.
      for (let index = 0; index < 40; index += 2) expect(messages[index + 1]).toBe(`You said: ${messages[index]}`);
      expect(new Set(messages.filter((_, index) => index % 2 === 0)).size).toBe(20);
      // The order is the order the server queued them in.
      const queued = (await client.runs.list(thread.thread_id, { limit: 100 })).reverse();
      expect(queued.map((run) => (run as unknown as { kwargs: { input: { messages: Array<{ content: string }> } } }).kwargs.input.messages[0]!.content)).toEqual(
        messages.filter((_, index) => index % 2 === 0),
      );
      expect(queued.every((run) => run.status === "success")).toBe(true);
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    });

    it("20 parallel runs with reject: one wins, 19 get 409, and nothing else changes", async () => {
      const { client } = fixture.server;
      const thread = await client.threads.create();
      // The winner's model answers only once every racer has had its answer: no race with the clock.
      const answer = fixture.stub.holdNextReply();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, index) => client.runs.create(thread.thread_id, "agent", { input: user(`racer ${index}`), multitaskStrategy: "reject" })),
      );
      answer();
      const won = outcomes.filter((outcome) => outcome.status === "fulfilled");
      const lost = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(19);
      expect(lost.every((outcome) => (outcome.reason as { status?: number }).status === 409)).toBe(true);
      await client.runs.join(thread.thread_id, (won[0] as PromiseFulfilledResult<{ run_id: string }>).value.run_id);
      expect(contents((await client.threads.getState(thread.thread_id)).values)).toHaveLength(2);
      expect(await client.runs.list(thread.thread_id)).toHaveLength(1);
      expect(fixture.stub.requests).toHaveLength(1);
    });

    it("threads running in parallel never see each other's messages", async () => {
      const { client } = fixture.server;
      const threads = await Promise.all(Array.from({ length: 12 }, () => client.threads.create()));
      await Promise.all(
        threads.map(async (thread, index) => {
          for (let turn = 0; turn < 3; turn += 1) await client.runs.wait(thread.thread_id, "agent", { input: user(`thread ${index} turn ${turn}`) });
        }),
      );
      for (const [index, thread] of threads.entries()) {
        const messages = contents((await client.threads.getState(thread.thread_id)).values);
        expect(messages).toHaveLength(6);
        expect(messages.every((message) => message.includes(`thread ${index} turn`))).toBe(true);
      }
      // And what reached the model for each request was that thread's conversation only.
      for (const { body } of fixture.stub.requests) {
        const texts = body.messages.filter((message) => message.role === "user").map((message) => String(message.content));
        const owner = /thread (\d+)/.exec(texts[0]!)![1];
        expect(texts.every((text) => text.startsWith(`thread ${owner} `))).toBe(true);
      }
    });
  });
});
